"""sctl.pp.harmonize on real GDSC lines: held-out lines with a planted batch shift play the patients."""

import numpy as np
import pytest

import sctl
from sctl.models.baselines import RidgeBaseline

DRUG = "Vorinostat"
N_QUERY = 150


@pytest.fixture(scope="module")
def split():
    """(reference, clean query, shifted query): the query is held-out lines with a per-gene offset and scale."""
    bulk = sctl.datasets.gdsc()
    bulk = bulk[bulk.obsm["ln_ic50"][DRUG].notna().to_numpy()].copy()
    bulk.obs["y"] = bulk.obsm["ln_ic50"][DRUG]
    rng = np.random.default_rng(0)
    order = rng.permutation(bulk.n_obs)
    reference, clean = bulk[order[N_QUERY:]].copy(), bulk[order[:N_QUERY]].copy()
    shifted = clean.copy()
    scale = rng.lognormal(0.0, 0.5, size=bulk.n_vars)
    offset = rng.normal(0.0, 1.0, size=bulk.n_vars)
    shifted.X = (clean.X * scale + offset).astype(np.float32)
    return reference, clean, shifted


def _mean_gap(a, b) -> float:
    return float(np.abs(np.asarray(a.X).mean(axis=0) - np.asarray(b.X).mean(axis=0)).mean())


def _rmse(model, query) -> float:
    return float(np.sqrt(np.mean((model.predict(query) - query.obs["y"].to_numpy()) ** 2)))


def test_removes_the_shift_and_keeps_the_reference(split, unchanged):
    reference, _, shifted = split
    before_ref, before_query = reference.copy(), shifted.copy()
    ref, query = sctl.pp.harmonize(reference, shifted, robust_z=False)
    assert _mean_gap(reference, shifted) > 0.5
    assert _mean_gap(ref, query) < 0.02
    np.testing.assert_array_equal(ref.X, reference.X)  # the reference keeps its values
    ratio = np.asarray(query.X).std(axis=0) / np.asarray(ref.X).std(axis=0)
    assert abs(np.median(ratio) - 1) < 0.1  # the scale is removed too
    unchanged(before_ref, reference)
    unchanged(before_query, shifted)
    params = query.uns["sctl_harmonize"]["params"]
    assert params["method"] == "combat"
    assert params["robust_z"] is False
    assert query.uns["sctl_harmonize"]["batches"] == {"reference": reference.n_obs, "query": N_QUERY}


def test_prediction_error_drops_after_harmonize(split):
    reference, clean, shifted = split
    ref0 = sctl.pp.standardize(reference, method="robust", copy=True)
    model = RidgeBaseline(alpha=1000.0).fit(ref0, label_key="y")
    before = _rmse(model, sctl.pp.standardize(shifted, reference=ref0, copy=True))
    oracle = _rmse(model, sctl.pp.standardize(clean, reference=ref0, copy=True))

    ref, query = sctl.pp.harmonize(reference, shifted)  # robust z-scores fitted on the reference
    after = _rmse(RidgeBaseline(alpha=1000.0).fit(ref, label_key="y"), query)
    print(f"RMSE of ln_ic50 ({DRUG}): before {before:.3f}, after {after:.3f}, unshifted {oracle:.3f}")
    assert after < 0.95 * before
    assert after < 1.05 * oracle
    assert ref.uns["sctl_standardize"]["params"]["method"] == "robust"
    assert np.allclose(np.median(ref.X, axis=0), 0, atol=1e-5)


def test_groups_batches_and_pooled_scale(split):
    reference, _, shifted = split
    reference, shifted = reference.copy(), shifted.copy()
    reference.obs["group"] = np.where(np.arange(reference.n_obs) % 2, "a", "b")
    shifted.obs["group"] = np.where(np.arange(shifted.n_obs) % 3, "a", "b")
    shifted.obs["site"] = np.where(np.arange(shifted.n_obs) < 50, "s1", "s2")
    shifted.X[:50] += 2.0  # a second batch with its own offset
    ref, query = sctl.pp.harmonize(reference, shifted, by="group", batch_key="site", robust_z=False)
    for site in ("s1", "s2"):
        assert _mean_gap(ref, query[query.obs["site"] == site]) < 0.05
    assert query.uns["sctl_harmonize"]["groups"] == ["a", "b"]
    assert query.uns["sctl_harmonize"]["batches"]["query:s1"] == 50

    ref_pooled, query_pooled = sctl.pp.harmonize(reference, shifted, correct_reference=True, robust_z=False)
    assert not np.allclose(ref_pooled.X, reference.X)
    assert _mean_gap(ref_pooled, query_pooled) < 0.02


def test_constant_genes_are_only_shifted(split):
    reference, _, shifted = split
    reference, shifted = reference[:, :50].copy(), shifted[:, :50].copy()
    reference.X[:, 0] = 1.0
    _, query = sctl.pp.harmonize(reference, shifted, robust_z=False)
    assert query.uns["sctl_harmonize"]["n_genes_location_only"] == 1
    assert np.isfinite(query.X).all()
    assert abs(float(query.X[:, 0].mean()) - 1.0) < 1e-5


def test_errors(split):
    reference, _, shifted = split
    renamed = shifted[:, :20].copy()
    renamed.var_names = [f"X{i}" for i in range(20)]
    with pytest.raises(ValueError, match="No gene is shared"):
        sctl.pp.harmonize(reference, renamed)
    lonely = shifted[:10].copy()
    lonely.obs["site"] = ["alone"] + ["many"] * 9
    with pytest.raises(ValueError, match="single sample"):
        sctl.pp.harmonize(reference, lonely, batch_key="site")
    orphan = shifted[:10].copy()
    orphan.obs["group"] = "unseen"
    ref = reference.copy()
    ref.obs["group"] = "seen"
    with pytest.raises(ValueError, match="no reference samples"):
        sctl.pp.harmonize(ref, orphan, by="group")
    with pytest.raises(KeyError, match="not found"):
        sctl.pp.harmonize(reference, shifted, by="nope")
    with pytest.raises(ValueError, match="Unknown harmonisation method"):
        sctl.pp.harmonize(reference, shifted, method="scvi")
