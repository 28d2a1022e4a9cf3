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


# ------------------------------------------------------------------------------------ shared docstring fragments
def test_doc_params_fills_placeholder_lines_at_their_indentation():
    from sctl._docs import doc_params

    @doc_params(pair="x, y\n    The values.", section="Parameters\n----------\n{pair}")
    def add(x, y):
        """Add two numbers.

        {section}
        """

    assert inspect.getdoc(add) == "Add two numbers.\n\nParameters\n----------\nx, y\n    The values."


def test_doc_params_refuses_unknown_self_holding_and_missing_placeholders():
    from sctl._docs import doc_params

    def documented():
        """Summary.

        {nowhere}
        """

    with pytest.raises(KeyError, match="nowhere"):
        doc_params()(documented)
    with pytest.raises(ValueError, match="holds itself"):
        doc_params(nowhere="{again}", again="{nowhere}")(documented)

    def plain():
        """Summary without a placeholder."""

    with pytest.raises(ValueError, match=r"no \{placeholder\} line"):
        doc_params()(plain)


def public_objects(module: types.ModuleType):
    """``(qualified name, object)`` of a namespace, its public sub-modules and the public members of its classes."""
    yield module.__name__, module
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType):
            yield from public_objects(obj)
            continue
        yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):  # its own members and those it inherits from sctl's classes (mixins)
            for klass in reversed([k for k in obj.__mro__ if k.__module__.startswith("sctl")]):
                for attr, member in vars(klass).items():
                    if not attr.startswith("_") or attr == "__init__":
                        yield f"{module.__name__}.{name}.{attr}", member


PUBLIC_DOCS = {
    name: inspect.getdoc(obj) or ""
    for namespace in NAMESPACES
    for name, obj in public_objects(importlib.import_module(f"sctl.{namespace}"))
}


def test_no_public_docstring_keeps_a_placeholder():
    placeholder = re.compile(r"^\s*\{\w+\}\s*$", re.M)
    unfilled = sorted(name for name, doc in PUBLIC_DOCS.items() if placeholder.search(doc))
    assert not unfilled, f"decorate these with sctl._docs.doc_params so that their {{fragments}} are filled: {unfilled}"


#: a number measured by a benchmark, a speed-up, a pointer into ``benchmarks/`` or a benchmark's verdict
BENCHMARK_FIGURE = re.compile(
    r"benchmarks/"
    r"|\b(?:AUROC|AUPRC|RMSE|MAE|Brier(?: score)?|sign accuracy)\s?[=≈:]?\s?\d"
    r"|\b\d+(?:\.\d+)?\s?(?:s|ms|seconds|min|minutes)\b"
    r"|\b\d+(?:\.\d+)?\s?[x×]\s(?:faster|slower)|\bspeed-?ups?\b"
    r"|\bon the [\w-]+ benchmark\b",
    re.IGNORECASE,
)


#: docstrings being rewritten on another branch (sctl issue 20): drop a name once its docstring passes
def test_no_docstring_quotes_benchmark_figures():
    quoted = {name: match.group() for name, doc in PUBLIC_DOCS.items() if (match := BENCHMARK_FIGURE.search(doc))}
    assert not quoted, (
        f"Docstrings quote benchmark figures {quoted}: move each statement to its docs/methods page and point "
        "there (e.g. 'see docs/methods/grip.md'); figures go stale, docstrings are read for how to call a function."
    )


def test_benchmark_figure_pattern_flags_figures_not_parameters():
    flagged = ["RMSE 0.755 after 20 epochs", "AUROC = 0.86", "fits in 3.1 s", "a 4x faster layer"]
    flagged += ["see benchmarks/x.py", "On the realistic-shift benchmark it scored best"]
    kept = ["AUROC in [0, 1]; 0.5 is chance", "Rows scored at a time", "10 µM and 24 h", "the metric ``seconds``"]
    assert all(BENCHMARK_FIGURE.search(text) for text in flagged)
    assert not any(BENCHMARK_FIGURE.search(text) for text in kept)


def test_every_cited_key_is_in_the_bibliography():
    bib = (API.parent / "references.bib").read_text()
    known = set(re.findall(r"^@\w+\{([^,\s]+),", bib, re.M))
    cited = {
        f"{path.relative_to(SRC.parent)}: {key}"
        for path in SRC.rglob("*.py")
        for targets in re.findall(r":cite:[a-z]+:`([^`]+)`", path.read_text())
        for key in re.sub(r"\{[^{}]*\}", "", targets).split(",")
        if key.strip() not in known
    }
    assert not cited, f"Cited but not in docs/references.bib (add the entry): {sorted(cited)}"
