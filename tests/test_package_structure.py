"""scanpy's package conventions, checked for every public function of sctl.pp, sctl.tl and sctl.pl."""

import inspect
import re

import pytest

import sctl

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
