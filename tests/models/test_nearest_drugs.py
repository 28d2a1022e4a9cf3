import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl
from sctl.models import PerturbationEnsemble
from sctl.models.baselines import NearestDrugs, PerDrugMean
from sctl.models.baselines._drug_neighbours import neighbour_mean, tanimoto


@pytest.fixture(scope="module")
def smiles() -> dict[str, str]:
    drugs = sctl.datasets.gdsc().uns["sctl_drugs"].dropna(subset=["lincs_name"])
    return dict(zip(drugs["lincs_name"], drugs["smiles"], strict=True))


@pytest.fixture(scope="module")
def plate(smiles) -> AnnData:
    """The L1000 plate's DMSO wells and the 14 drugs with a SMILES, their SMILES in ``uns["sctl_drugs"]``."""
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    keep = plate.obs["is_control"].to_numpy(bool) | plate.obs["drug"].isin(smiles).to_numpy()
    plate = plate[keep].copy()
    plate.uns["sctl_drugs"] = pd.DataFrame({"smiles": pd.Series(smiles)})
    return plate


def test_neighbour_mean_weights_nearest_and_shrinks():
    similarity = np.array([[0.5, 0.0, 0.25], [0.0, 0.0, 0.0]])
    values = np.array([[2.0, 0.0], [10.0, 10.0], [-2.0, 4.0]])
    overall = np.array([1.0, 1.0])
    estimate = neighbour_mean(similarity, values, overall, n_neighbours=2, shrinkage=0.25)
    # query 0: neighbours 0 and 2 -> (0.5 * [2, 0] + 0.25 * [-2, 4] + 0.25 * [1, 1]) / 1.0
    np.testing.assert_allclose(estimate[0], [0.75, 1.25])
    np.testing.assert_allclose(estimate[1], overall)  # like no reference: the overall value
    np.testing.assert_allclose(neighbour_mean(similarity[:1], values, overall, 1, 0.0), [[2.0, 0.0]])
    scalar = neighbour_mean(similarity, values[:, 0], 1.0, n_neighbours=5, shrinkage=0.0)
    np.testing.assert_allclose(scalar, [(0.5 * 2 - 0.25 * 2) / 0.75, 1.0])
    fingerprints = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(tanimoto(fingerprints, fingerprints), [[1, 1 / 3, 0], [1 / 3, 1, 0], [0, 0, 0]])


def test_nearest_drugs_by_hand(plate, smiles):
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    train = treated[treated.obs["drug"] != "trametinib"].copy()
    model = NearestDrugs().fit(train)  # SMILES from uns["sctl_drugs"]
    seen = PerDrugMean().fit(train)
    pd.testing.assert_frame_equal(model.predict(train), seen.predict(train))
    # trametinib by hand: its 3 nearest training drugs (PD-0325901, another MEK inhibitor, first), shrunk
    names = list(model.by_drug_.index)
    fingerprints = sctl.pp.featurize_drugs({d: smiles[d] for d in [*names, "trametinib"]}, kind="morgan").to_numpy()
    similarity = tanimoto(fingerprints[-1:], fingerprints[:-1])[0]
    nearest = np.argsort(-similarity)[:3]
    assert names[nearest[0]] == "PD-0325901"
    weights = similarity[nearest]
    by_drug = model.by_drug_.to_numpy()
    expected = (weights @ by_drug[nearest] + model.mean_shift_) / (weights.sum() + 1.0)
    predicted = model.predict(treated, drug="trametinib")
    np.testing.assert_allclose(predicted.to_numpy()[0], expected, rtol=1e-10)
    assert not np.allclose(predicted.to_numpy()[0], model.mean_shift_)
    # a drug with no SMILES anywhere: the mean shift, as PerDrugMean
    aspirin = model.predict(treated[:2], drug="aspirin").to_numpy()
    np.testing.assert_allclose(aspirin, seen.predict(treated[:2], drug="aspirin").to_numpy())
    # the SMILES may also come from the constructor, or from the data predicted
    bare = treated.copy()
    del bare.uns["sctl_drugs"]
    trained_bare = NearestDrugs().fit(bare[bare.obs["drug"] != "trametinib"])
    np.testing.assert_allclose(trained_bare.predict(bare, drug="trametinib").to_numpy()[0], model.mean_shift_)
    np.testing.assert_allclose(trained_bare.predict(treated, drug="trametinib").to_numpy(), predicted.to_numpy())
    from_constructor = NearestDrugs(smiles=smiles).fit(bare[bare.obs["drug"] != "trametinib"])
    np.testing.assert_allclose(from_constructor.predict(bare, drug="trametinib").to_numpy(), predicted.to_numpy())
    # saved state rebuilds the same predictions
    state, meta = model.get_state()
    rebuilt = NearestDrugs.from_state(state, meta)
    pd.testing.assert_frame_equal(rebuilt.predict(treated), model.predict(treated), check_names=False)
    with pytest.raises(ValueError, match="SMILES"):
        NearestDrugs(smiles={"trametinib": "not a smiles"}).fit(train).predict(treated, drug="trametinib")


def test_nearest_drugs_beat_the_mean_shift_on_held_out_drugs(plate):
    table = sctl.tl.evaluate_perturbation(plate, [], scheme="drug_blind", n_folds=5, seed=0, key_added=None)
    scores = table.groupby(["model", "metric"])["value"].mean().unstack()
    assert {"zero_change", "mean_shift", "per_drug_mean", "nearest_drugs", "ridge"} == set(scores.index)
    nearest, shift = scores.loc["nearest_drugs"], scores.loc["mean_shift"]
    assert nearest["mean_rowwise_rmse"] < shift["mean_rowwise_rmse"] - 0.005
    assert nearest["direction_accuracy"] > shift["direction_accuracy"]
    assert nearest["pearson_delta"] > 0.05  # some of each drug's own deviation from the mean shift
    without = plate.copy()
    del without.uns["sctl_drugs"]
    plain = sctl.tl.evaluate_perturbation(without, [], scheme="dose", n_folds=3, max_folds=1, key_added=None)
    assert "nearest_drugs" not in set(plain["model"])  # without SMILES it would repeat per_drug_mean
    ensemble = PerturbationEnsemble(["nearest_drugs", "ridge"]).fit(plate[~plate.obs["is_control"].to_numpy()])
    assert set(ensemble.models_) == {"nearest_drugs", "ridge"}
