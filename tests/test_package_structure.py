"""scanpy's package conventions, checked for every public function of sctl.pp, sctl.tl and sctl.pl.

Also two contracts of sctl's own: every perturbation model names the condition columns alike, and every plot
draws the result stored under its ``key`` and returns its figure through ``sctl.pl._utils.finish``.
"""

import inspect
import re
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

import sctl
from sctl.pl._utils import finish

from .pl._plot_inputs import PLOT_CALLS

NAMESPACES = {"pp": sctl.pp, "tl": sctl.tl, "pl": sctl.pl}

# verbs that take two datasets or make a new object, so they cannot follow the ``adata``-first / ``copy`` rule
TWO_DATASETS = {"align_genes", "harmonize"}  # (reference, query) -> aligned copies of both
NEW_OBJECT = {
    "balance",
    "featurize_drugs",
    "pathway_mask",
    "ppi_adjacency",
    "iter_folds",
    "read_de_table",  # a table in, a table out
    "de_to_anndata",  # a table in, a new AnnData out
    "attention_genes",  # an attention map (genes x genes) in, the genes of its strongest pairs out
}


def _public_functions():
    for ns_name, namespace in NAMESPACES.items():
        for name in namespace.__all__:
            obj = getattr(namespace, name)
            if inspect.isfunction(obj):
                yield pytest.param(ns_name, name, obj, id=f"{ns_name}.{name}")


def _documented_parameters(func) -> set[str]:
    doc = inspect.getdoc(func) or ""
    section = re.search(r"Parameters\n-+\n(.*?)(\n\n[A-Z][a-z]+\n-+\n|\Z)", doc, re.S)
    if section is None:
        return set()
    names = set()
    for line in section.group(1).splitlines():
        if line and not line.startswith(" "):
            names.update(n.strip().lstrip("*") for n in line.split(":")[0].split(","))
    return names


@pytest.mark.parametrize(("ns_name", "name", "func"), list(_public_functions()))
def test_every_parameter_is_documented(ns_name, name, func):
    params = {p for p in inspect.signature(func).parameters}
    missing = params - _documented_parameters(func)
    assert not missing, f"sctl.{ns_name}.{name} does not document {sorted(missing)}"


@pytest.mark.parametrize(("ns_name", "name", "func"), list(_public_functions()))
def test_docstring_has_an_example(ns_name, name, func):
    assert "Examples\n--------" in (inspect.getdoc(func) or ""), f"sctl.{ns_name}.{name} has no example"


@pytest.mark.parametrize(("ns_name", "name", "func"), list(_public_functions()))
def test_scanpy_signature_conventions(ns_name, name, func):
    params = list(inspect.signature(func).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert len(positional) <= 3, f"sctl.{ns_name}.{name} takes more than three positional parameters"
    if name in TWO_DATASETS | NEW_OBJECT:
        return
    assert params[0].name == "adata", f"sctl.{ns_name}.{name}: the first parameter must be `adata`"
    if ns_name == "pl":
        names = {p.name for p in params}
        assert {"show", "save"} <= names, f"sctl.pl.{name} must take show= and save="
        return
    copy = inspect.signature(func).parameters.get("copy")
    if copy is not None:
        assert copy.kind is copy.KEYWORD_ONLY, f"sctl.{ns_name}.{name}: `copy` must be keyword-only"
        assert copy.default is False
        assert "AnnData | None" in str(inspect.signature(func).return_annotation)


# ------------------------------------------------------------------- perturbation models: one name per condition
#: the condition columns of perturbation data, named alike by every model, baseline and verb that reads them
CONDITION_KEYS = {"drug_key", "cell_line_key", "dose_key"}
#: condition keys some of them take besides (SeqPerturb's drug-id token)
OTHER_CONDITION_KEYS = {"drug_id_key"}
#: perturbation models without a cell-line condition: CSG²A conditions on drug, dose and time only
NO_CELL_LINE_CONDITION = {"CSG2A"}
PERTURBATION_MODELS = ["GRIP", "SeqPerturb", "CSG2A", "PerturbationEnsemble"]


def _condition_parameters(func) -> set[str]:
    """``*_key`` parameters that name a drug, compound, cell or dose column, however spelled."""
    return {
        name
        for name in inspect.signature(func).parameters
        if name.endswith("_key") and re.search("drug|compound|pert|cell|dose|conc", name)
    }


def _perturbation_entry_points():
    for name in PERTURBATION_MODELS:
        cls = getattr(sctl.models, name)
        entry = cls.setup_anndata if hasattr(cls, "setup_anndata") else cls.__init__  # the ensemble: constructor
        yield pytest.param(name, entry, id=f"models.{name}")
    for name, cls in sctl.models.baselines.PERTURBATION_BASELINES.items():
        yield pytest.param(name, cls.__init__, id=f"baselines.{name}")
    for name in ("evaluate_perturbation", "match_controls"):
        namespace = sctl.tl if hasattr(sctl.tl, name) else sctl.pp
        yield pytest.param(name, getattr(namespace, name), id=name)


@pytest.mark.parametrize(("name", "entry"), list(_perturbation_entry_points()))
def test_condition_columns_have_one_name_everywhere(name, entry):
    other = _condition_parameters(entry) - CONDITION_KEYS - OTHER_CONDITION_KEYS
    assert not other, f"{name} names condition columns {sorted(other)}: use {sorted(CONDITION_KEYS)}"


@pytest.mark.parametrize("name", PERTURBATION_MODELS)
def test_every_perturbation_model_takes_the_shared_condition_keys(name):
    cls = getattr(sctl.models, name)
    entry = cls.setup_anndata if hasattr(cls, "setup_anndata") else cls.__init__
    expected = CONDITION_KEYS - ({"cell_line_key"} if name in NO_CELL_LINE_CONDITION else set())
    missing = expected - set(inspect.signature(entry).parameters)
    assert not missing, f"{name}.{entry.__name__} does not take {sorted(missing)}"


# ------------------------------------------------------------------------------------------ the plot contract
PLOTS = sorted(sctl.pl.__all__)
#: plots that draw no stored result, so take no ``key``: attention_map computes the maps from a model
DRAWS_NO_STORED_RESULT = {"attention_map"}


@pytest.mark.parametrize("name", PLOTS)
def test_plot_signature(name):
    signature = inspect.signature(getattr(sctl.pl, name))
    params = signature.parameters
    assert "key_added" not in params, f"sctl.pl.{name}: the stored result is read from `key=`, not `key_added=`"
    if name in DRAWS_NO_STORED_RESULT:
        assert "key" not in params
    else:
        assert "key" in params, f"sctl.pl.{name} must read its result from `key=`"
        assert params["key"].default.startswith("sctl_"), f"sctl.pl.{name}: `key` defaults to the verb's key"
    assert params["show"].default is None
    assert params["save"].default is None
    assert str(signature.return_annotation) == "Figure | None", f"sctl.pl.{name} must return a Figure"


def test_every_plot_has_a_small_input():
    assert set(PLOT_CALLS) == set(PLOTS), "add a call on small data to tests/pl/_plot_inputs.py:PLOT_CALLS"


@pytest.mark.parametrize("name", PLOTS)
def test_plot_returns_its_figure_through_finish(name, monkeypatch):
    args, kwargs = PLOT_CALLS[name]()
    plot = getattr(sctl.pl, name)
    finished = []

    def spy(fig, show, save, **options):
        finished.append(fig)
        return finish(fig, show, save, **options)

    monkeypatch.setattr(sys.modules[inspect.unwrap(plot).__module__], "finish", spy)
    fig = plot(*args, **kwargs, show=False)
    assert isinstance(fig, Figure), f"sctl.pl.{name} returned {type(fig).__name__}"
    assert finished == [fig], f"sctl.pl.{name} must end in sctl.pl._utils.finish"
    plt.close(fig)
    assert plot(*args, **kwargs, show=True) is None  # shown: nothing returned (a no-op on the Agg backend)
    plt.close("all")
