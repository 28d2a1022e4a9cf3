import numpy as np
import pandas as pd
import pytest
import torch
from anndata import AnnData

import sctl
from sctl.metrics import direction_accuracy
from sctl.models import PerturbationEnsemble
from sctl.models.baselines import MeanShift, PerDrugMean, RidgeCondition

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def treated() -> AnnData:
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    return plate[~plate.obs["is_control"].to_numpy()].copy()


def test_ensemble_is_the_mean_of_its_members(treated):
    train, test = treated[::2].copy(), treated[1::2].copy()
    ensemble = PerturbationEnsemble(["mean_shift", "per_drug_mean", "ridge"], n_seeds=3).fit(train)
    assert [len(models) for models in ensemble.models_.values()] == [1, 1, 1]  # baselines are deterministic
    members = [cls().fit(train).predict(test, dose=0.5) for cls in (MeanShift, PerDrugMean, RidgeCondition)]
    expected = sum(member.to_numpy() for member in members) / 3
    predicted = ensemble.predict(test, dose=0.5)
    assert predicted.shape == (test.n_obs, test.n_vars)
    assert list(predicted.columns) == list(test.var_names)
    np.testing.assert_allclose(predicted.to_numpy(), expected, rtol=1e-10, atol=1e-12)
    sctl.tl.predict_perturbation(test, ensemble, "vemurafenib", dose=1.0)
    assert test.uns["sctl_predict_perturbation"]["params"]["predicts"] == "delta"
    np.testing.assert_allclose(
        test.layers["sctl_predicted"] - test.layers["sctl_basal"], test.layers["sctl_predicted_delta"], atol=1e-5
    )


def test_ensemble_averages_the_seeds_of_a_factory(treated):
    def shifted(train: AnnData, seed: int) -> RidgeCondition:
        model = RidgeCondition().fit(train)
        model.intercept_ = model.intercept_ + seed  # seeds 4, 5: mean offset 4.5
        return model

    ensemble = PerturbationEnsemble({"ridge": shifted}, n_seeds=2, seed=4).fit(treated)
    plain = RidgeCondition().fit(treated).predict(treated)
    np.testing.assert_allclose(ensemble.predict(treated).to_numpy(), plain.to_numpy() + 4.5, atol=1e-9)


def test_ensemble_save_load_round_trip(treated, tmp_path):
    members = ["GRIP", "per_drug_mean", "ridge"]
    ensemble = PerturbationEnsemble(members, n_seeds=2, seed=3).fit(treated, train_kwargs={"max_epochs": 1})
    ensemble.save(tmp_path / "ensemble")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ensemble.save(tmp_path / "ensemble")
    ensemble.save(tmp_path / "ensemble", overwrite=True)
    loaded = PerturbationEnsemble.load(tmp_path / "ensemble")
    assert (loaded.members, loaded.n_seeds, loaded.seed) == (members, 2, 3)
    assert [len(models) for models in loaded.models_.values()] == [2, 1, 1]
    pd.testing.assert_frame_equal(loaded.predict(treated, dose=1.0), ensemble.predict(treated, dose=1.0))
    with pytest.raises(TypeError, match="cannot be saved by name"):
        PerturbationEnsemble({"ridge": lambda train, seed: RidgeCondition().fit(train)}).fit(treated).save(tmp_path)


def test_ensemble_passes_its_preset_to_the_deep_members(treated, tmp_path):
    train = treated[::2].copy()
    ensemble = PerturbationEnsemble(["GRIP", "SeqPerturb"], n_seeds=1, preset="paper")
    ensemble.fit(train, train_kwargs={"max_epochs": 1, "enable_progress_bar": False})
    grip, seq = ensemble.models_["GRIP"][0], ensemble.models_["SeqPerturb"][0]
    assert (grip.preset, seq.preset) == ("paper", "paper")
    assert grip.init_params_["scaling"] == "separate"
    assert seq.train_settings_["batch_size"] == 20  # Table III, GRU with attention
    assert "pert_id" in seq.categories  # the compound id token the plate has
    ensemble.save(tmp_path / "ens")
    loaded = PerturbationEnsemble.load(tmp_path / "ens")
    assert loaded.preset == "paper"
    assert loaded.models_["GRIP"][0].preset == "paper"
    with pytest.raises(ValueError, match="Unknown preset"):
        PerturbationEnsemble(preset="nature")


def test_ensemble_beats_ridge_on_held_out_doses(treated):
    """Seeds of GRIP and SeqPerturb averaged with the ridge: better directions and deviations than the ridge."""
    table = sctl.tl.evaluate_perturbation(
        treated, ["ensemble"], scheme="dose", n_folds=3, max_folds=1, train_kwargs={"enable_progress_bar": False}
    )
    value = table.set_index(["model", "metric"])["value"]
    assert value["ensemble", "pearson_delta"] > value["ridge", "pearson_delta"] + 0.02
    assert value["ensemble", "direction_accuracy"] > value["ridge", "direction_accuracy"]
    assert value["ensemble", "mean_rowwise_rmse"] < value["ridge", "mean_rowwise_rmse"] - 0.02


def test_ensemble_errors(treated):
    with pytest.raises(ValueError, match="Unknown member 'scGPT'"):
        PerturbationEnsemble(["GRIP", "scGPT"])
    with pytest.raises(ValueError, match="at least one member"):
        PerturbationEnsemble([])
    with pytest.raises(ValueError, match="`n_seeds` must be at least 1"):
        PerturbationEnsemble(n_seeds=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        PerturbationEnsemble().predict(treated)
    with pytest.raises(RuntimeError, match="not fitted"):
        PerturbationEnsemble().save("never_written")


def test_direction_accuracy_scores_only_changed_entries():
    true = np.array([[1.0, -2.0, 0.1], [0.2, 3.0, -0.6]])
    pred = np.array([[0.5, 1.0, -9.0], [-5.0, 0.1, 0.0]])
    assert direction_accuracy(true, pred) == pytest.approx(2 / 4)  # 1.0, -2.0, 3.0, -0.6 scored; 0.0 is wrong
    assert direction_accuracy(true, pred, min_change=1.5) == pytest.approx(1 / 2)
    assert np.isnan(direction_accuracy(true, pred, min_change=5.0))
    with pytest.raises(ValueError, match="`min_change` must be zero or positive"):
        direction_accuracy(true, pred, min_change=-1.0)
    report = sctl.metrics.perturbation_report(true, pred, min_change=1.5)
    assert report["direction_accuracy"] == pytest.approx(0.5)
    assert pd.notna(report["sign_accuracy"])
