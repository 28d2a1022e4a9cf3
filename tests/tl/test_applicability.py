"""No confident answer where sctl cannot judge: cells unlike the reference, empty cells, raw counts, lone samples,
too few labelled lines, clobbered columns and unknown arguments (issue 19)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from anndata import AnnData
from scipy import sparse

import sctl
from sctl.models._transfer._data import standardize_domains
from sctl.tl._applicability import MIN_DETECTED_GENES


def _bulk_and_cells(seed: int = 0, n_lines: int = 160, n_cells: int = 400, n_genes: int = 60):
    """Bulk lines and log-normalised-like cells of one hidden biology: genes g0..g4 drive sensitivity."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    weights = np.zeros(n_genes)
    weights[:5] = 1.0
    bulk_x = rng.normal(size=(n_lines, n_genes))
    ln_ic50 = -(bulk_x @ weights) + rng.normal(scale=0.5, size=n_lines)
    response = pd.DataFrame({"DrugA": ln_ic50}, index=[f"line{i}" for i in range(n_lines)])
    bulk = AnnData(bulk_x.astype(np.float32), obs=pd.DataFrame(index=response.index), var=pd.DataFrame(index=genes))
    bulk.obsm["ln_ic50"] = response
    cell_z = rng.normal(size=(n_cells, n_genes))
    cells_x = np.log1p(np.exp(1.0 + 0.4 * cell_z + rng.normal(scale=0.2, size=(1, n_genes))))
    truth = np.where(cell_z @ weights > 0, "sensitive", "resistant")
    cells = AnnData(
        cells_x.astype(np.float32),
        obs=pd.DataFrame({"truth": pd.Categorical(truth)}, index=[f"cell{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=genes),
    )
    return bulk, cells


def _assert_unchanged(adata: AnnData, before: AnnData) -> None:
    """``adata`` holds exactly what ``before`` (a copy taken before the call) holds."""
    a, b = adata.X, before.X
    a, b = (a.toarray(), b.toarray()) if sparse.issparse(a) else (a, b)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(adata.obs, before.obs)
    pd.testing.assert_frame_equal(adata.var, before.var)
    assert list(adata.uns) == list(before.uns)
    assert list(adata.layers) == list(before.layers)
    assert list(adata.obsm) == list(before.obsm)


@pytest.fixture(scope="module")
def gdsc():
    return sctl.datasets.gdsc()


def _tumour(gdsc, mode="within_line", n_cells=300, seed=0):
    cells = sctl.datasets.realistic_tumor(drug="Dabrafenib", mode=mode, n_cells=n_cells, seed=seed)
    reference = gdsc[~gdsc.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    return cells, reference


# ------------------------------------------------------------------------------------------ applicability domain
def test_blood_cells_scored_against_cancer_lines_are_flagged_uncertain(gdsc):
    """pbmc68k_reduced (real PBMCs, scaled X) against GDSC: most cells fall outside the domain, with a warning;
    they keep their probabilities but are never called sensitive or resistant."""
    pbmc = sc.datasets.pbmc68k_reduced()
    with pytest.warns(UserWarning, match="resemble no reference line") as record:
        sctl.tl.predict_response(pbmc, reference=gdsc, drug="Dabrafenib", method="signature", min_shared=100)
    assert any("negative values" in str(w.message) for w in record)  # scaled input warns too
    in_domain = pbmc.obs["sctl_in_domain"].to_numpy()
    assert in_domain.mean() < 0.5
    calls = pbmc.obs["sctl_response"]
    assert (calls[~in_domain] == "uncertain").all()
    assert np.isfinite(pbmc.obs["sctl_response_proba"]).all()
    similarity = pbmc.obs["sctl_reference_similarity"].to_numpy()
    domain = pbmc.uns["sctl_response"]["params"]["domain"]
    assert ((similarity >= domain["cutoff"]) == in_domain).all()
    assert domain["n_outside"] == int((~in_domain).sum())
    assert 0 < domain["cutoff"] < domain["null_similarity"] < 1


@pytest.mark.parametrize(("mode", "seed"), [("within_line", 0), ("between_lines", 1), ("held_out_tissue", 2)])
def test_tumour_of_held_out_lines_stays_in_the_domain(gdsc, mode, seed):
    cells, reference = _tumour(gdsc, mode, seed=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*resemble no reference line")  # a few outliers only: no warning
        sctl.tl.predict_response(cells, reference=reference, drug="Dabrafenib", method="signature")
    assert cells.obs["sctl_in_domain"].mean() > 0.9
    assert cells.obs["sctl_reference_similarity"].median() > cells.uns["sctl_response"]["params"]["domain"]["cutoff"]


def test_in_domain_cells_keep_their_probabilities():
    """The domain only adds a call: the probabilities are those of the plain fit."""
    bulk, cells = _bulk_and_cells()
    sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="logreg")
    classifier = sctl.models.baselines.get_baseline("logreg", seed=0)
    aligned_bulk, aligned = sctl.pp.align_genes(bulk, cells)
    standardize_domains(aligned_bulk, aligned, layers=(None, None), standardize_rows=True)
    sctl.pp.binarize_response(aligned_bulk, "DrugA")
    expected = classifier.fit(aligned_bulk).predict(aligned)
    np.testing.assert_allclose(cells.obs["sctl_response_proba"], expected)
    inside = cells.obs["sctl_in_domain"].to_numpy()
    calls = np.where(expected >= 0.5, "sensitive", "resistant")
    assert (cells.obs["sctl_response"].to_numpy()[inside] == calls[inside]).all()


# ---------------------------------------------------------------------------------------------- degenerate cells
def test_empty_cells_get_no_probability():
    """All-zero and near-empty cells are not scored (NaN, 'uncertain', a warning naming how many); the other cells
    get what they get without them."""
    bulk, cells = _bulk_and_cells()
    cells.X[:3] = 0
    cells.X[3, MIN_DETECTED_GENES - 1 :] = 0  # MIN_DETECTED_GENES - 1 genes detected
    with pytest.warns(UserWarning, match=r"4 of 400 cells have fewer than"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="logreg")
    proba = cells.obs["sctl_response_proba"].to_numpy()
    assert np.isnan(proba[:4]).all()
    assert np.isfinite(proba[4:]).all()
    assert (cells.obs["sctl_response"][:4] == "uncertain").all()
    assert np.isnan(cells.obs["sctl_reference_similarity"][:4]).all()
    assert not cells.obs["sctl_in_domain"][:4].any()
    params = cells.uns["sctl_response"]["params"]
    assert (params["n_cells_scored"], params["n_cells_too_few_genes"]) == (396, 4)
    rest = cells[4:].copy()
    del rest.obs["sctl_response"], rest.obs["sctl_response_proba"], rest.uns["sctl_response"]
    sctl.tl.predict_response(rest, reference=bulk, drug="DrugA", method="logreg")
    np.testing.assert_allclose(proba[4:], rest.obs["sctl_response_proba"])


def test_a_single_cell_or_too_few_cells_are_refused():
    bulk, cells = _bulk_and_cells()
    for few in (cells[:1].copy(), cells[:10].copy()):
        before = few.copy()
        with pytest.raises(ValueError, match="at least 20"):
            sctl.tl.predict_response(few, reference=bulk, drug="DrugA", method="logreg")
        _assert_unchanged(few, before)


# ------------------------------------------------------------------------------------------------- input checks
def test_raw_counts_and_absurd_values_are_refused_with_the_fix(gdsc):
    cells, reference = _tumour(gdsc, n_cells=200)
    counts = AnnData(cells.layers["counts"].copy(), obs=cells.obs.copy(), var=cells.var.copy())
    before = counts.copy()
    with pytest.raises(ValueError, match=r"raw counts.*sc\.pp\.normalize_total.*sc\.pp\.log1p"):
        sctl.tl.predict_response(counts, reference=reference, drug="Dabrafenib", method="signature")
    _assert_unchanged(counts, before)
    broken = cells.copy()
    broken.X = broken.X.toarray() if sparse.issparse(broken.X) else broken.X.copy()
    broken.X[0, 0] = 1e30
    before = broken.copy()
    with pytest.raises(ValueError, match="1e\\+30"):
        sctl.tl.predict_response(broken, reference=reference, drug="Dabrafenib", method="signature")
    _assert_unchanged(broken, before)
    # the same data in a layer is checked too, and the reference (z-scores) is exempt
    layered = cells.copy()
    layered.layers["raw"] = cells.layers["counts"]
    with pytest.raises(ValueError, match="layers\\['raw'\\]"):
        sctl.tl.predict_response(layered, reference=reference, drug="Dabrafenib", method="signature", layer="raw")


# --------------------------------------------------------------------------------------------- one scale, samples
def test_samples_scored_together_share_one_scale(gdsc):
    """Resistant cells scored with sensitive ones (two samples, `batch_key`) keep low probabilities; scored alone
    they are relative to themselves, and a warning says so."""
    cells, reference = _tumour(gdsc, n_cells=500, seed=0)
    cells.obs["sample"] = np.where(cells.obs["response"] == "resistant", "A", "B")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message=".*resemble no reference line")
        warnings.filterwarnings("ignore", message=".*reference genes found in query")
        out = sctl.tl.predict_response(
            cells, reference=reference, drug="Dabrafenib", method="logreg", batch_key="sample", copy=True
        )
    proba = out.obs["sctl_response_proba"]
    resistant = (cells.obs["response"] == "resistant").to_numpy()
    assert proba[resistant].mean() < proba[~resistant].mean() - 0.2
    assert out.uns["sctl_response"]["params"]["batch_key"] == "sample"
    alone = cells[resistant].copy()
    with pytest.warns(UserWarning, match="relative to this sample"):
        sctl.tl.predict_response(alone, reference=reference, drug="Dabrafenib", method="logreg")
    alone_proba = alone.obs["sctl_response_proba"]
    assert proba[resistant].mean() < alone_proba.mean() - 0.05
    assert (proba[resistant] >= 0.5).mean() < (alone_proba >= 0.5).mean()
    before = cells.copy()
    with pytest.raises(KeyError, match="samples"):
        sctl.tl.predict_response(cells, reference=reference, drug="Dabrafenib", method="logreg", batch_key="samples")
    _assert_unchanged(cells, before)


# ----------------------------------------------------------------------------------------------- labelled lines
@pytest.mark.parametrize("method", ["logreg", "signature"])
def test_too_few_or_tied_labelled_lines_are_refused_for_every_method(method):
    bulk, cells = _bulk_and_cells(n_lines=40)
    before, before_bulk = cells.copy(), bulk.copy()
    with pytest.raises(ValueError, match=r"too few labelled lines.*'resistant': 2, 'sensitive': 2.*at least 5"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method=method, k=0.05)
    constant = bulk.copy()
    constant.obsm["ln_ic50"] = pd.DataFrame({"DrugA": np.ones(bulk.n_obs)}, index=bulk.obs_names)
    with pytest.raises(ValueError, match="does not separate"):
        sctl.tl.predict_response(cells, reference=constant, drug="DrugA", method=method)
    _assert_unchanged(cells, before)
    _assert_unchanged(bulk, before_bulk)


# ------------------------------------------------------------------------------------- key_added, model_kwargs
def test_key_added_never_overwrites_a_users_column():
    bulk, cells = _bulk_and_cells()
    cells.obs["response"] = cells.obs["truth"]
    before = cells.copy()
    with pytest.raises(ValueError, match="key_added"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="logreg", key_added="response")
    _assert_unchanged(cells, before)
    sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="logreg")
    sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="signature")  # its own columns: fine
    assert cells.uns["sctl_response"]["params"]["method"] == "signature"


def test_unknown_model_kwargs_are_refused_with_the_accepted_names():
    bulk, cells = _bulk_and_cells()
    before = cells.copy()
    with pytest.raises(ValueError, match=r"'bogus'.*Accepted names:.*'C'"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="logreg", model_kwargs={"bogus": 1})
    with pytest.raises(ValueError, match=r"'sgnature'.*'members', 'signature', 'rf'"):
        sctl.tl.predict_response(
            cells,
            reference=bulk,
            drug="DrugA",
            method="ensemble",
            model_kwargs={"members": ["signature", "rf"], "sgnature": {}},
        )
    with pytest.raises(ValueError, match=r"'bogus'.*Accepted names:.*'alpha'"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", model_kwargs={"bogus": 1})
    _assert_unchanged(cells, before)
    strong = sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="logreg", copy=True)
    weak = sctl.tl.predict_response(
        cells, reference=bulk, drug="DrugA", method="logreg", model_kwargs={"C": 1e-4}, copy=True
    )
    assert weak.obs["sctl_response_proba"].std() < strong.obs["sctl_response_proba"].std()
    assert weak.uns["sctl_response"]["params"]["model_kwargs"] == {"C": 1e-4}
