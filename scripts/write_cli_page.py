"""Write ``docs/api/cli.md``: every command and option of the ``sctl`` command line, from its argparse parsers.

The page is generated from ``sctl.cli`` so that the two cannot drift apart; ``tests/test_docs_cli.py`` fails when
they do. Run after changing a command or an option:

    python scripts/write_cli_page.py
"""

import argparse
from pathlib import Path

from sctl import cli

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api" / "cli.md"

HEADER = """# Command line: `sctl`

Installing sctl puts one command on the path, `sctl`, with two sub-commands: `sctl demo` runs the package end to
end on the real data it ships, and `sctl benchmark` runs the benchmark scripts of a source checkout and writes one
report. `sctl COMMAND --help` prints the same options as below. Everything the commands do is also reachable from
Python: the demo's steps are those of {doc}`../getting_started`, the benchmarks are plain scripts in
`benchmarks/`.

This page is generated from the parsers of `sctl.cli` by `scripts/write_cli_page.py`.
"""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (MyST's dollar maths is on, so ``$`` is escaped too)."""
    return " ".join(text.split()).replace("|", "\\|").replace("$", "\\$")


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, one-line help, parser)`` of every sub-command, in the order they were added."""
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    return [(name, helps[name], sub) for name, sub in action.choices.items()]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of a sub-command, ``--help`` left out."""
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _usage(name: str, parser: argparse.ArgumentParser) -> str:
    parts = []
    for action in _options(parser):
        flag = action.option_strings[-1]
        value = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
        parts.append(f"[{flag}{value}]")
    return " ".join([f"sctl {name}", *parts])


def _row(action: argparse.Action) -> str:
    flags = ", ".join(f"`{flag}`" for flag in action.option_strings)
    if action.nargs == 0:
        default = "off"
    elif action.default is None:
        default = "none"
    else:
        default = f"`{action.default}`"
    choices = f" One of {', '.join(f'`{c}`' for c in action.choices)}." if action.choices else ""
    help_text = action.help or ""
    return f"| {flags} | {default} | {_cell(help_text[0].upper() + help_text[1:])}.{choices} |"


def render() -> str:
    """The Markdown page."""
    lines = [HEADER]
    for name, summary, sub in _subcommands(cli._build_parser()):
        lines += [
            f"## `sctl {name}`",
            "",
            f"{_cell(summary[0].upper() + summary[1:])}.",
            "",
            "```text",
            _usage(name, sub),
            "```",
            "",
            _cell(sub.description or ""),
            "",
            "| option | default | what it sets |",
            "|---|---|---|",
            *(_row(action) for action in _options(sub)),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE}")
