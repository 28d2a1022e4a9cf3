"""The API reference lists every public name: each name of a namespace's ``__all__`` is in an autosummary table.

The pages are docs/api/<namespace>.md; a table lists the names under its last ``.. currentmodule::``. A public
sub-module (``sctl.models.baselines``) must have its own ``__all__`` listed the same way.
"""

import importlib
import inspect
import re
import types
from pathlib import Path

import pytest

import sctl

API = Path(__file__).resolve().parents[1] / "docs" / "api"
_CURRENT = re.compile(r"^\s*\.\. currentmodule:: (\S+)\s*$")
_AUTOSUMMARY = re.compile(r"^(\s*)\.\. autosummary::\s*$")


def listed_names(text: str) -> list[str]:
    """Fully qualified names of every autosummary entry of a page, in order (repeats kept)."""
    names: list[str] = []
    module = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if match := _CURRENT.match(lines[i]):
            module = match.group(1)
        elif match := _AUTOSUMMARY.match(lines[i]):
            indent = len(match.group(1))
            i += 1
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                entry = lines[i].strip()
                if entry and not entry.startswith(":") and not entry.startswith("```"):
                    names.append(entry if module is None or entry.startswith("sctl.") else f"{module}.{entry}")
                i += 1
            continue
        i += 1
    return names


def public_names(module: types.ModuleType) -> set[str]:
    """Fully qualified public names of a module, public sub-modules expanded into their own names."""
    names: set[str] = set()
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType):
            names |= public_names(obj)
        else:
            names.add(f"{module.__name__}.{name}")
    return names


NAMESPACES = [name for name in sctl.__all__ if isinstance(getattr(sctl, name), types.ModuleType)]


def test_listed_names_parses_currentmodule_and_entries():
    text = (
        "```{eval-rst}\n.. currentmodule:: sctl.pp\n\n.. autosummary::\n   :toctree: generated\n\n"
        "   qc\n   split\n```\n"
        "```{eval-rst}\n.. currentmodule:: sctl.models.baselines\n\n.. autosummary::\n   :toctree: generated\n\n"
        "   get_baseline\n```\n"
    )
    assert listed_names(text) == ["sctl.pp.qc", "sctl.pp.split", "sctl.models.baselines.get_baseline"]


def test_every_namespace_has_a_page():
    missing = [name for name in NAMESPACES if not (API / f"{name}.md").is_file()]
    assert not missing, f"No API page for {missing}: add docs/api/<name>.md and list it in docs/api/index.md."
    index = (API / "index.md").read_text()
    assert all(re.search(rf"^{name}$", index, re.M) for name in NAMESPACES), "docs/api/index.md lacks a page"


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_public_name_is_listed(namespace):
    module = importlib.import_module(f"sctl.{namespace}")
    entries = listed_names((API / f"{namespace}.md").read_text())
    repeated = sorted({name for name in entries if entries.count(name) > 1})
    assert not repeated, f"docs/api/{namespace}.md lists {repeated} more than once: keep one entry of each."
    listed = set(entries)
    missing = sorted(public_names(module) - listed)
    assert not missing, (
        f"docs/api/{namespace}.md does not list {missing}: add them to an autosummary table of that page "
        "(under the right `.. currentmodule::`)."
    )
    unknown = sorted(name for name in listed if name not in public_names(module))
    assert not unknown, f"docs/api/{namespace}.md lists names that are not public: {unknown}"


SRC = Path(__file__).resolve().parents[1] / "src" / "sctl"
_SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}\n", re.M)


def docstring_sections(doc: str) -> dict[str, str]:
    """NumPy docstring sections of a cleaned docstring (``inspect.getdoc``), by heading."""
    parts = _SECTION.split(doc)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_docstring_sections_parses_headings_and_bodies():
    doc = "Summary.\n\nParameters\n----------\nx, y\n    Values.\nz\n    More.\n\nExamples\n--------\n>>> 1\n"
    sections = docstring_sections(doc)
    assert list(sections) == ["Parameters", "Examples"]
    assert sections["Examples"] == ">>> 1\n"


def test_example_sections_are_headed_examples():
    singular = re.compile(r"^(\s*)Example:?\n\1-+\n", re.M)
    found = [
        f"{path.relative_to(SRC.parent)}:{path.read_text()[: match.start()].count(chr(10)) + 1}"
        for path in sorted(SRC.rglob("*.py"))
        for match in singular.finditer(path.read_text())
    ]
    assert not found, f"Head these sections 'Examples' (numpydoc), not 'Example': {found}"


@pytest.mark.parametrize("name", sctl.metrics.__all__)
def test_every_metric_documents_its_parameters_return_and_an_example(name):
    function = getattr(sctl.metrics, name)
    sections = docstring_sections(inspect.getdoc(function))
    missing = [s for s in ("Parameters", "Returns", "Examples") if s not in sections]
    assert not missing, f"sctl.metrics.{name} has no {missing} section"
    documented = {
        entry.strip()
        for line in sections["Parameters"].splitlines()
        if line and not line[0].isspace()
        for entry in line.split(",")
    }
    undocumented = [p for p in inspect.signature(function).parameters if p not in documented]
    assert not undocumented, f"sctl.metrics.{name} does not document {undocumented}"


def test_realistic_tumor_states_the_platform_it_applies():
    from sctl.datasets._tumor import REALISTIC_PLATFORM

    doc = inspect.getdoc(sctl.datasets.realistic_tumor)
    stated = dict(re.findall(r"(\w+)=([\d.]+)", doc))
    assert set(REALISTIC_PLATFORM) <= set(stated), f"not stated: {sorted(set(REALISTIC_PLATFORM) - set(stated))}"
    assert {key: float(stated[key]) for key in REALISTIC_PLATFORM} == REALISTIC_PLATFORM


def test_ensemble_page_names_the_default_and_accepted_members():
    from sctl.models.baselines import BASELINES
    from sctl.tl._response_methods import DECOMPOSED, ENSEMBLE_MEMBERS, TRANSFER_METHODS

    text = (API.parent / "methods" / "ensemble.md").read_text()
    table = [line.split("|")[1].strip() for line in text.split("\n\n## ", 1)[0].splitlines() if line.startswith("| `")]
    assert table == [f'`"{member}"`' for member in ENSEMBLE_MEMBERS]
    accepted = next(line for line in text.splitlines() if line.startswith('- `model_kwargs["members"]`'))
    accepted += text.split(accepted, 1)[1].split("\n- ", 1)[0]
    named = set(re.findall(r'`"(\w+)"`', accepted))
    assert named == {*BASELINES, *TRANSFER_METHODS, DECOMPOSED}, "list every classifier, and ridge as refused"
