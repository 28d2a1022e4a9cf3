import numpy as np
import pandas as pd
import pytest
import torch
from anndata import AnnData

import sctl
from sctl.datasets import state_markers
from sctl.models import GRIP

torch.set_num_threads(1)

MARKERS = state_markers()
EFFECTIVE_GENES = MARKERS.loc[MARKERS["category"] == "effective", "gene"].unique()
INEFFECTIVE_GENES = MARKERS.loc[MARKERS["category"] == "ineffective", "gene"].unique()


class ShiftModel:
    """Adds a known change per drug: `good` raises the effective markers, `bad` the ineffective ones."""

    predicts = "delta"
    drugs = ("bad", "good", "good_weak", "null")

    def __init__(self, var_names):
        self.var_names = pd.Index(var_names)
        self.shifts = {
            "good": 3.0 * self.var_names.isin(EFFECTIVE_GENES),
            "good_weak": 1.0 * self.var_names.isin(EFFECTIVE_GENES),
            "bad": 3.0 * self.var_names.isin(INEFFECTIVE_GENES),
            "null": np.zeros(len(self.var_names)),
        }

    def predict(self, adata, *, drug=None, dose=None):
        scale = 1.0 if dose is None else float(dose)
        values = np.tile(scale * self.shifts[drug], (adata.n_obs, 1))
        return pd.DataFrame(values, index=adata.obs_names, columns=self.var_names)


@pytest.fixture
def samples() -> AnnData:
    rng = np.random.default_rng(0)
    genes = [*MARKERS["gene"].unique(), *(f"OTHER{i}" for i in range(300))]
    adata = AnnData(rng.normal(5, 1, size=(30, len(genes))).astype(np.float32))
    adata.var_names = genes
    adata.obs_names = [f"patient{i}" for i in range(30)]
    adata.layers["sctl_basal"] = adata.X.copy()
    return adata


def test_known_shifts_give_the_known_ranking(samples):
    model = ShiftModel(samples.var_names)
    ranking = sctl.tl.rank_drugs(samples, model)  # drugs default to model.drugs
    assert list(ranking.index) == ["good", "good_weak", "null", "bad"]
    assert list(ranking["rank"]) == [1, 2, 3, 4]
    assert ranking.loc["null", "delta_ri_mean"] == 0.0  # identical profiles score identically
    assert ranking.loc["null", "delta_ri_std"] == 0.0
    assert ranking.loc["good", "frac_improved"] == 1.0
    assert ranking.loc["bad", "frac_improved"] == 0.0
    assert ranking.loc["good", "frac_effective"] == 1.0
    assert ranking.loc["bad", "frac_effective"] == 0.0
    assert ranking.loc["good", "delta_apoptosis"] > 0 > ranking.loc["bad", "delta_apoptosis"]
    assert ranking.loc["bad", "delta_drug_resistance"] > 0
    assert (ranking["n_samples"] == 30).all()
    per_sample = samples.obsm["sctl_rank_drugs"]
    assert per_sample.shape == (30, 4)
    np.testing.assert_allclose(per_sample.mean()[ranking.index], ranking["delta_ri_mean"])
    np.testing.assert_allclose(per_sample.std()[ranking.index], ranking["delta_ri_std"])
    stored = samples.uns["sctl_rank_drugs"]
    pd.testing.assert_frame_equal(stored["ranking"], ranking)
    assert stored["params"]["model"] == "ShiftModel"
    assert "apoptosis" in stored["params"]["effective"]


def test_ranking_matches_scoring_the_pool_by_hand(samples):
    model = ShiftModel(samples.var_names)
    ranking = sctl.tl.rank_drugs(samples, model, ["good", "bad"])
    basal = samples.layers["sctl_basal"].astype(np.float64)
    pool = AnnData(np.vstack([basal, basal + model.shifts["good"], basal + model.shifts["bad"]]))
    pool.var_names = samples.var_names
    sctl.tl.score_states(pool)
    ri = pool.obs["sctl_resistance_index"].to_numpy().reshape(3, 30)
    np.testing.assert_allclose(ranking.loc["good", "delta_ri_mean"], (ri[1] - ri[0]).mean())
    np.testing.assert_allclose(ranking.loc["bad", "delta_ri_mean"], (ri[2] - ri[0]).mean())
    np.testing.assert_allclose(ranking.loc["bad", "ri_basal_mean"], ri[0].mean())


def test_dose_per_drug_scales_the_shift(samples):
    model = ShiftModel(samples.var_names)
    ranking = sctl.tl.rank_drugs(samples, model, ["good", "good_weak"], dose={"good": 0.1, "good_weak": 2.0})
    assert list(ranking.index) == ["good_weak", "good"]  # 2 x 1.0 beats 0.1 x 3.0
    assert samples.uns["sctl_rank_drugs"]["params"]["dose"] == {"good": 0.1, "good_weak": 2.0}


def test_errors(samples):
    model = ShiftModel(samples.var_names)
    no_basal = samples.copy()
    del no_basal.layers["sctl_basal"]
    with pytest.raises(KeyError, match=r"adata\.X\.copy"):
        sctl.tl.rank_drugs(no_basal, model, ["good"])
    with pytest.raises(KeyError, match="no dose for"):
        sctl.tl.rank_drugs(samples, model, ["good", "bad"], dose={"good": 1.0})
    with pytest.raises(ValueError, match="twice"):
        sctl.tl.rank_drugs(samples, model, ["good", "good"])
    with pytest.raises(ValueError, match="does not model treatment time"):
        sctl.tl.rank_drugs(samples, model, ["good"], time=24.0)
    with pytest.raises(ValueError, match="not in `predict_kwargs`"):
        sctl.tl.rank_drugs(samples, model, ["good"], predict_kwargs={"drug": "bad"})
    nan = samples.copy()
    nan.layers["sctl_basal"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sctl.tl.rank_drugs(nan, model, ["good"])
    with pytest.raises(ValueError, match="no resistance index"), pytest.warns(UserWarning, match="No effective"):
        sctl.tl.rank_drugs(samples, model, ["good"], genesets={"a": list(EFFECTIVE_GENES[:8])})


def test_rank_drugs_with_a_trained_grip():
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    is_control = plate.obs["is_control"].to_numpy()
    treated = plate[~is_control].copy()
    GRIP.setup_anndata(treated, dose_key="dose")
    model = GRIP(treated, n_hidden=64, n_embed=16, n_disc_hidden=64)
    model.train(max_epochs=5)
    basal = plate[is_control].copy()
    drugs = ["trametinib", "vemurafenib", "dasatinib", "geldanamycin", "erlotinib"]
    markers = state_markers()
    markers = markers[markers["state"] != "immune_escape"]  # no marker of it among the 978 landmark genes
    ranking = sctl.tl.rank_drugs(basal, model, drugs, dose=1.11, genesets=markers, score_kwargs={"min_genes": 4})
    assert sorted(ranking.index) == sorted(drugs)
    assert ranking["delta_ri_mean"].is_monotonic_increasing
    assert np.isfinite(ranking.drop(columns="rank").to_numpy()).all()
    assert (ranking["n_samples"] == basal.n_obs).all()
    assert ranking[["frac_effective", "frac_improved"]].stack().between(0, 1).all()
    assert basal.obsm["sctl_rank_drugs"].shape == (basal.n_obs, len(drugs))
    expected = model.predict(basal, drug="trametinib", dose=1.11)
    assert not np.allclose(expected.to_numpy(), basal.layers["sctl_basal"])  # the drugs do change the profiles
