"""The command-line page of the docs lists every sub-command and option of ``sctl``, as the parsers define them."""

import argparse
import importlib.util
import re
from pathlib import Path

from sctl import cli

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "api" / "cli.md"


def _writer():
    spec = importlib.util.spec_from_file_location("write_cli_page", ROOT / "scripts" / "write_cli_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_page_matches_the_parsers():
    assert PAGE.read_text() == _writer().render(), "Regenerate the page: python scripts/write_cli_page.py"


def test_cli_page_lists_every_option_with_its_default():
    text = PAGE.read_text()
    writer = _writer()
    subcommands = writer._subcommands(cli._build_parser())
    assert [name for name, _, _ in subcommands] == ["demo", "benchmark"]
    for name, _, parser in subcommands:
        section = text.split(f"## `sctl {name}`", 1)[1].split("\n## ", 1)[0]
        options = [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
        assert options, f"sctl {name} has no options to document"
        rows = {
            flag: line
            for line in section.splitlines()
            if line.startswith("| `")
            for flag in re.findall(r"`([^`]+)`", line.split("|")[1])
        }
        for action in options:
            flag = action.option_strings[-1]
            assert flag in rows, f"docs/api/cli.md lacks `sctl {name} {flag}`"
            row = rows[flag]
            if action.nargs != 0 and action.default is not None:
                assert f"`{action.default}`" in row


def test_cli_page_would_catch_a_new_option(monkeypatch):
    build = cli._build_parser

    def with_extra_option():
        parser = build()
        demo = next(sub for name, _, sub in _writer()._subcommands(parser) if name == "demo")
        demo.add_argument("--n-genes", type=int, default=800, help="genes of the panel")
        return parser

    monkeypatch.setattr(cli, "_build_parser", with_extra_option)
    rendered = _writer().render()
    assert "| `--n-genes` | `800` | Genes of the panel. |" in rendered
    assert rendered != PAGE.read_text()


def test_cli_page_is_in_the_api_reference():
    assert "\ncli\n" in (ROOT / "docs" / "api" / "index.md").read_text()
