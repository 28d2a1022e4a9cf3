"""Large inputs (sctl issue 21): above a size, predict_response and screen_drugs read the cells chunk by chunk.

The threshold is lowered here so that a moderate input takes the large-input path: the default method's
probabilities must equal the in-memory path's, and the bounded-cost applicability domain must agree with the
exact one on nearly every cell.
"""

import warnings

import anndata as ad
import numpy as np
import pytest
from scipy import sparse

import sctl
from sctl.tl import _response_stream

DRUG = "Dabrafenib"


def _emptied(X, rows: slice):
    """``X`` (CSR) with ``rows`` emptied."""
    X = X.toarray()
    X[rows] = 0
    return sparse.csr_matrix(X)


@pytest.fixture(scope="module")
def gdsc():
    return sctl.datasets.gdsc()


@pytest.fixture(scope="module")
def tumour(gdsc):
    """A semi-synthetic tumour of held-out lines (800 genes) with two samples and four empty cells."""
    cells = sctl.datasets.realistic_tumor(drug=DRUG, n_cells=1200, seed=0)
    cells.obs["sample"] = np.where(np.arange(cells.n_obs) < 700, "a", "b")
    cells.X = _emptied(cells.X, slice(0, 4))
    reference = gdsc[~gdsc.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    return cells, reference


@pytest.fixture
def large(monkeypatch):
    """Inputs above 500 cells take the large-input path, read 300 rows at a time (several chunks)."""
    monkeypatch.setattr(_response_stream, "LARGE_INPUT_CELLS", 500)
    monkeypatch.setattr(_response_stream, "STREAM_CHUNK", 300)


def _predict(cells, reference, **kwargs):
    cells = cells.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sctl.tl.predict_response(cells, reference=reference, drug=DRUG, batch_key="sample", **kwargs)
    return cells


def _predict_exact(cells, reference, **kwargs):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_response_stream, "LARGE_INPUT_CELLS", 10**9)
        return _predict(cells, reference, **kwargs)


@pytest.fixture(scope="module")
def exact(tumour):
    return _predict_exact(*tumour)


def _assert_agrees(large, exact):
    """Equal probabilities; the same domain call on at least 95 % of the cells; no similarity where not scored."""
    np.testing.assert_allclose(large.obs["sctl_response_proba"], exact.obs["sctl_response_proba"], atol=1e-5)
    in_domain = large.obs["sctl_in_domain"].to_numpy()
    assert (in_domain == exact.obs["sctl_in_domain"].to_numpy()).mean() >= 0.95
    scored = ~np.isnan(exact.obs["sctl_response_proba"].to_numpy())
    similarity = large.obs["sctl_reference_similarity"].to_numpy()
    assert np.isnan(similarity[~scored]).all()
    assert not in_domain[~scored].any()
    assert np.corrcoef(similarity[scored], exact.obs["sctl_reference_similarity"][scored])[0, 1] > 0.8


def test_large_input_path_matches_the_exact_path(tumour, exact, large):
    cells, reference = tumour
    result = cells.copy()
    with pytest.warns(UserWarning, match="of 1200 cells have fewer than 20 detected"):
        sctl.tl.predict_response(result, reference=reference, drug=DRUG, batch_key="sample")
    _assert_agrees(result, exact)
    params, exact_params = result.uns["sctl_response"]["params"], exact.uns["sctl_response"]["params"]
    assert params["large_input"] == {"above_n_cells": 500, "cells_scored_in_chunks": True, "chunk_size": 300}
    n_scored = exact_params["n_cells_scored"]
    assert params["domain"]["approximation"] == {"pca_cells": n_scored, "neighbour_block_cells": 512}
    assert params["domain"]["cutoff"] == exact_params["domain"]["cutoff"]
    assert (params["n_cells_scored"], params["n_cells_too_few_genes"]) == (n_scored, 1200 - n_scored)
    assert n_scored <= 1196
    assert "large_input" not in exact_params
    assert "approximation" not in exact_params["domain"]


def test_backed_cells_are_scored_chunk_by_chunk(tumour, exact, large, tmp_path):
    cells, reference = tumour
    cells.write_h5ad(tmp_path / "cells.h5ad")
    backed = ad.read_h5ad(tmp_path / "cells.h5ad", backed="r")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sctl.tl.predict_response(backed, reference=reference, drug=DRUG, batch_key="sample")
        assert backed.isbacked
        _assert_agrees(backed, exact)
        in_memory = _predict(cells, reference)
        np.testing.assert_array_equal(
            backed.obs["sctl_reference_similarity"], in_memory.obs["sctl_reference_similarity"]
        )
    finally:
        backed.file.close()


def test_large_input_without_row_zscore_and_other_methods(tumour, large):
    """``standardize_rows=False`` streams too; any other method loads the scored cells: same probabilities."""
    cells, reference = tumour
    for kwargs in ({"standardize_rows": False}, {"method": "signature"}):
        result, expected = _predict(cells, reference, **kwargs), _predict_exact(cells, reference, **kwargs)
        _assert_agrees(result, expected)
        streamed = result.uns["sctl_response"]["params"]["large_input"]["cells_scored_in_chunks"]
        assert streamed == ("method" not in kwargs)


def test_large_input_checks_the_cells_chunk_by_chunk(tumour, large):
    cells, reference = tumour
    counts = cells.copy()
    counts.X = counts.X.copy()
    counts.X.data = np.round(np.expm1(counts.X.data) * 50)
    with pytest.raises(ValueError, match=r"integers, i\.e\. raw counts.*normalize_total"):
        sctl.tl.predict_response(counts, reference=reference, drug=DRUG)
    scaled = cells.copy()
    scaled.X = scaled.X.toarray() - 1.0
    with pytest.warns(UserWarning, match="negative values"):
        sctl.tl.predict_response(scaled, reference=reference, drug=DRUG)
    empty = cells.copy()
    empty.X = _emptied(empty.X, slice(15, None))
    with pytest.raises(ValueError, match="Only 11 of 1200 cells have at least 20 detected"):
        sctl.tl.predict_response(empty, reference=reference, drug=DRUG)


def test_screen_drugs_streams_every_drug_at_once(gdsc, large):
    cells = sctl.datasets.realistic_tumor(["Trametinib", "Olaparib"], mode="drug_pair", n_cells=600, seed=0)
    drugs = ["Trametinib", "Olaparib", "Dabrafenib", "Docetaxel"]
    streamed = cells.copy()
    sctl.tl.screen_drugs(streamed, gdsc, drugs, groupby="subpopulation")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_response_stream, "LARGE_INPUT_CELLS", 10**9)
        sctl.tl.screen_drugs(cells, gdsc, drugs, groupby="subpopulation")
    for key in ("sctl_drug_screen", "sctl_drug_screen_specific"):
        np.testing.assert_allclose(streamed.obsm[key], cells.obsm[key], atol=1e-5)
        assert list(streamed.obsm[key].columns) == drugs
    np.testing.assert_allclose(
        streamed.obs["sctl_drug_screen_general"], cells.obs["sctl_drug_screen_general"], atol=1e-5
    )
    assert (streamed.obs["sctl_in_domain"] == cells.obs["sctl_in_domain"]).mean() >= 0.95
    assert streamed.uns["sctl_drug_screen"]["params"]["large_input"]["cells_scored_in_chunks"]
    table, expected = streamed.uns["sctl_drug_screen"]["groups"], cells.uns["sctl_drug_screen"]["groups"]
    assert (table[["group", "drug"]] == expected[["group", "drug"]]).all().all()
