import warnings

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl


def _adata(genes, n_obs=4, seed=0):
    rng = np.random.default_rng(seed)
    adata = AnnData(rng.normal(size=(n_obs, len(genes))).astype(np.float32), var=pd.DataFrame(index=genes))
    adata.layers["counts"] = np.arange(n_obs * len(genes), dtype=np.float32).reshape(n_obs, len(genes))
    return adata


def test_align_genes_keeps_shared_genes_in_reference_order(unchanged):
    reference = _adata(["a", "b", "c", "d"])
    query = _adata(["d", "x", "b", "a", "c"], seed=1)
    ref_before, query_before = reference.copy(), query.copy()
    ref_out, query_out = sctl.pp.align_genes(reference, query)
    assert list(ref_out.var_names) == list(query_out.var_names) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(query_out.X, query[:, ["a", "b", "c", "d"]].X)
    np.testing.assert_array_equal(ref_out.X, reference.X)
    assert ref_out is not reference
    assert query_out is not query
    assert not ref_out.is_view
    assert not query_out.is_view
    unchanged(ref_before, reference)
    unchanged(query_before, query)
    info = query_out.uns["sctl_align_genes"]
    assert (info["n_shared"], info["n_reference"], info["n_query"]) == (4, 4, 5)


def test_align_genes_warns_with_counts_on_partial_overlap():
    reference = _adata([f"g{i}" for i in range(2000)], n_obs=2)
    query = _adata([f"g{i}" for i in range(150, 2000)], n_obs=2)
    with pytest.warns(UserWarning, match=r"1,850 of 2,000 reference genes found in query; 150 missing \(e.g. 'g0'"):
        ref_out, query_out = sctl.pp.align_genes(reference, query)
    assert ref_out.n_vars == query_out.n_vars == 1850


def test_align_genes_min_shared_fraction_and_count():
    reference = _adata(list("abcdefghij"))
    query = _adata(list("abc"))
    with pytest.raises(ValueError, match=r"Only 3 of 10 .*min_shared=0.5.*5 genes"):
        sctl.pp.align_genes(reference, query, min_shared=0.5)
    with pytest.raises(ValueError, match=r"Only 3 of 10 .*min_shared=500.*10 genes.*not only highly variable"):
        sctl.pp.align_genes(reference, query)  # the default count asks for at most every reference gene
    with pytest.warns(UserWarning, match="3 of 10"):
        sctl.pp.align_genes(reference, query, min_shared=0.3)
    with pytest.raises(ValueError, match=r"min_shared=4"):
        sctl.pp.align_genes(reference, query, min_shared=4)
    with pytest.warns(UserWarning, match="7 missing"):
        _, out = sctl.pp.align_genes(reference, query, min_shared=3)
    assert out.n_vars == 3
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        sctl.pp.align_genes(reference, query, min_shared=1.5)
    with pytest.raises(ValueError, match="at least 1"):
        sctl.pp.align_genes(reference, query, min_shared=0)
    with pytest.raises(TypeError, match="min_shared"):
        sctl.pp.align_genes(reference, query, min_shared="half")


def test_align_genes_no_overlap_explains_identifiers():
    reference = _adata(["TP53", "EGFR", "KRAS"])
    with pytest.raises(ValueError, match=r"No gene is shared.*Ensembl.*case"):
        sctl.pp.align_genes(reference, _adata(["ENSG00000141510", "ENSG00000146648", "ENSG00000133703"]))
    with pytest.raises(ValueError, match="ignored"):
        sctl.pp.align_genes(reference, _adata(["tp53", "egfr", "kras"]))


@pytest.mark.parametrize("dtype", ["object", "category"])
def test_align_genes_names_the_var_column_that_holds_the_symbols(dtype):
    """CELLxGENE-style data: Ensembl ids as var_names, the symbols in ``var["feature_name"]``."""
    reference = _adata(list("abcdefghij"))
    query = _adata([f"ENSG{i:011d}" for i in range(10)])
    query.var["feature_name"] = pd.Series(list("abcdefghij"), index=query.var_names, dtype=dtype)
    query.var["feature_biotype"] = "gene"
    with pytest.raises(ValueError, match=r"No gene is shared.*`var\['feature_name'\]` names 10 of the reference"):
        sctl.pp.align_genes(reference, query)
    query.var_names = list("abc") + [f"ENSG{i:011d}" for i in range(7)]  # half mapped: the column still finds more
    with pytest.raises(ValueError, match=r"Only 3 of 10 .*`var\['feature_name'\]` names 10 of the"):
        sctl.pp.align_genes(reference, query, min_shared=5)
    query.var["feature_name"] = pd.Series(list("abcxyzuvwq"), index=query.var_names, dtype=dtype)
    with pytest.raises(ValueError, match=r"Only 3 of 10") as error:
        sctl.pp.align_genes(reference, query, min_shared=5)
    assert "var[" not in str(error.value)  # a column no better than the names is not suggested


def test_align_genes_duplicates_and_types():
    with pytest.warns(UserWarning, match="not unique"):  # anndata's own warning
        reference = _adata(["a", "b", "b"])
    query = _adata(["a", "b", "c"])
    with pytest.raises(ValueError, match=r"duplicated.*var_names_make_unique"):
        sctl.pp.align_genes(reference, query)
    with pytest.raises(TypeError, match="query"):
        sctl.pp.align_genes(query, query.X)


def test_align_genes_layer_becomes_x():
    reference = _adata(["a", "b", "c"])
    query = _adata(["c", "a", "b"])
    ref_out, query_out = sctl.pp.align_genes(reference, query, layer="counts")
    np.testing.assert_array_equal(query_out.X, query[:, ["a", "b", "c"]].layers["counts"])
    np.testing.assert_array_equal(ref_out.X, reference.layers["counts"])
    del query.layers["counts"]
    with pytest.raises(KeyError, match="counts"):
        sctl.pp.align_genes(reference, query, layer="counts")


def test_align_genes_keeps_response_tables(bulk):
    cells = _adata(list(bulk.var_names[::-1]), n_obs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # full overlap: no warning
        ref_out, _ = sctl.pp.align_genes(bulk, cells)
    pd.testing.assert_frame_equal(ref_out.obsm["ln_ic50"], bulk.obsm["ln_ic50"])


def test_align_genes_default_accepts_a_small_panel_and_warns():
    """A 600-gene panel of a 2,000-gene reference (30 %) is accepted by default, with a small-panel warning."""
    reference = _adata([f"g{i}" for i in range(2000)])
    query = _adata([f"g{i}" for i in range(0, 2000, 2)][:600])
    with pytest.warns(UserWarning, match=r"600 of 2,000 .*small panel \(fewer than 1,000 genes\)"):
        ref_out, query_out = sctl.pp.align_genes(reference, query)
    assert ref_out.n_vars == query_out.n_vars == 600
    with pytest.raises(ValueError, match="Only 499 of 2,000"):
        sctl.pp.align_genes(reference, query[:, :499])
    big = _adata([f"g{i}" for i in range(1500)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a full overlap neither warns nor logs a small panel
        sctl.pp.align_genes(big, big)
