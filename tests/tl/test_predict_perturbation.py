import numpy as np
import pandas as pd
import pytest
import torch
from anndata import AnnData

import sctl
from sctl.models import GRIP, SeqPerturb
from sctl.models.baselines import MeanShift, PerDrugMean, RidgeCondition, ZeroChange

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def plate() -> AnnData:
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    return plate


@pytest.fixture(scope="module")
def grip(plate) -> GRIP:
    train = plate[~plate.obs["is_control"].to_numpy()].copy()
    GRIP.setup_anndata(train, dose_key="dose")
    model = GRIP(train, n_hidden=32, n_embed=8, n_disc_hidden=32)
    model.train(max_epochs=1)
    return model


def test_predict_perturbation_with_grip(plate, grip):
    adata = plate.copy()
    sctl.tl.predict_perturbation(adata, grip, "vemurafenib", dose=3.33)
    predicted, delta = adata.layers["sctl_predicted"], adata.layers["sctl_predicted_delta"]
    assert predicted.shape == delta.shape == adata.shape
    np.testing.assert_allclose(predicted - adata.layers["sctl_basal"], delta, atol=1e-4)
    expected = grip.predict(adata, drug="vemurafenib", dose=3.33)
    np.testing.assert_allclose(predicted, expected.to_numpy(), atol=1e-5)
    params = adata.uns["sctl_predict_perturbation"]["params"]
    assert params["model"] == "GRIP"
    assert params["preset"] == "sctl"
    assert params["drug"] == "vemurafenib"
    assert params["dose"] == 3.33
    np.testing.assert_array_equal(adata.layers["sctl_delta"], plate.layers["sctl_delta"])  # observed kept


def test_predict_perturbation_copy_and_gene_subset(plate, grip):
    extra = plate.copy()
    extra.var_names = [*extra.var_names[:-1], "NOT_IN_MODEL"]
    with pytest.raises(ValueError, match="align_genes"):
        sctl.tl.predict_perturbation(extra, grip)
    out = sctl.tl.predict_perturbation(plate, grip, "vemurafenib", copy=True)
    assert "sctl_predicted" in out.layers
    assert "sctl_predicted" not in plate.layers


def test_predict_perturbation_delta_models_and_time(plate):
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    SeqPerturb.setup_anndata(treated, dose_key="dose")
    model = SeqPerturb(treated, encoder="gru")
    model.train(max_epochs=1, batch_size=64)
    adata = treated.copy()
    sctl.tl.predict_perturbation(adata, model)
    np.testing.assert_allclose(
        adata.layers["sctl_predicted"], adata.layers["sctl_basal"] + adata.layers["sctl_predicted_delta"], atol=1e-5
    )
    assert adata.uns["sctl_predict_perturbation"]["params"]["predicts"] == "delta"
    with pytest.raises(ValueError, match="does not model treatment time"):
        sctl.tl.predict_perturbation(adata, model, time=24.0)
    no_basal = treated.copy()
    del no_basal.layers["sctl_basal"]
    sctl.tl.predict_perturbation(no_basal, model)
    assert "sctl_predicted" not in no_basal.layers
    assert "sctl_predicted_delta" in no_basal.layers


def test_baselines_by_hand(plate):
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    delta = treated.layers["sctl_delta"].astype(np.float64)
    assert np.all(ZeroChange().fit(treated).predict(treated).to_numpy() == 0)
    np.testing.assert_allclose(MeanShift().fit(treated).predict(treated).to_numpy()[0], delta.mean(0))
    per_drug = PerDrugMean().fit(treated).predict(treated, drug="vemurafenib").to_numpy()[0]
    np.testing.assert_allclose(per_drug, delta[treated.obs["drug"].eq("vemurafenib").to_numpy()].mean(0))
    unseen = PerDrugMean().fit(treated).predict(treated, drug="aspirin").to_numpy()[0]
    np.testing.assert_allclose(unseen, delta.mean(0))
    assert RidgeCondition().fit(treated).predict(treated).shape == treated.shape


def test_evaluate_baselines_tidy(plate):
    table = sctl.tl.evaluate_perturbation(plate, models=[], scheme="dose", n_folds=3)
    assert list(table.columns) == ["scheme", "fold", "model", "metric", "value", "n_train", "n_test", "note"]
    assert set(table["model"]) == {"zero_change", "mean_shift", "per_drug_mean", "ridge"}
    assert {"sign_accuracy", "mae", "mean_rowwise_rmse", "pearson_delta", "seconds"} <= set(table["metric"])
    assert sorted(table["fold"].unique()) == [0, 1, 2]
    sizes = table.drop_duplicates("fold")
    assert (sizes["n_train"] + sizes["n_test"] == 351).all()  # treated profiles only
    shift = table.query("model == 'mean_shift' and metric == 'pearson_delta'")["value"]
    assert shift.isna().all()  # no deviation from the training mean shift
    zero = table.query("model == 'zero_change' and metric == 'sign_accuracy'")["value"]
    assert (zero == 0).all()
    stored = plate.uns["sctl_evaluate_perturbation"]
    pd.testing.assert_frame_equal(stored["table"], table)
    assert stored["params"]["groupby"] == ["drug"]  # one cell line: no per-line rows
    per_group = stored["per_group"]
    assert list(per_group.columns) == ["scheme", "fold", "model", "grouping", "group", "metric", "value", "n_test"]
    sizes = per_group.query("metric == 'mae'").groupby(["fold", "model"])["n_test"].sum()
    assert (sizes.groupby("fold").nunique() == 1).all()
    n_test = table.drop_duplicates("fold").set_index("fold")["n_test"]
    assert (sizes.xs("ridge", level="model") == n_test).all()  # every held-out profile in exactly one group
    # by hand: dose levels are held out whole, so the profiles of one dose are one group of one fold
    by_dose = sctl.tl.evaluate_perturbation(
        plate, [], scheme="dose", n_folds=3, groupby=["drug", "dose"], key_added="by_dose"
    )
    scores = by_dose[by_dose["metric"] != "seconds"]
    pd.testing.assert_frame_equal(scores, table[table["metric"] != "seconds"])  # groups change nothing else
    per_dose = plate.uns["by_dose"]["per_group"].query("grouping == 'dose' and model == 'zero_change'")
    treated = plate[~plate.obs["is_control"].to_numpy()]
    for dose in (0.04, 10.0):
        delta = treated[treated.obs["dose"].eq(dose).to_numpy()].layers["sctl_delta"].astype(np.float64)
        row = per_dose[(per_dose["group"] == str(dose)) & (per_dose["metric"] == "mean_rowwise_rmse")]
        assert len(row) == 1
        assert row["n_test"].iloc[0] == len(delta)
        assert row["value"].iloc[0] == pytest.approx(np.sqrt((delta**2).mean(1)).mean())
    keys = set(plate.uns)
    sctl.tl.evaluate_perturbation(plate, [], scheme="dose", n_folds=3, max_folds=1, key_added=None)
    assert set(plate.uns) == keys


def test_evaluate_models_and_unseen_drugs(plate):
    def tiny_grip(train: AnnData) -> GRIP:
        GRIP.setup_anndata(train, dose_key="dose")
        model = GRIP(train, n_hidden=32, n_embed=8, n_disc_hidden=32)
        model.train(max_epochs=1)
        return model

    table = sctl.tl.evaluate_perturbation(plate, {"grip": tiny_grip}, scheme="drug_blind", n_folds=3, max_folds=1)
    grip_rows = table[table["model"] == "grip"]
    assert grip_rows.query("metric == 'mae'")["value"].isna().all()
    assert grip_rows["note"].str.contains("cannot predict").all()
    assert table.query("model == 'ridge' and metric == 'mae'")["value"].notna().all()
    named = sctl.tl.evaluate_perturbation(
        plate, ["GRIP"], scheme="mixed", n_folds=3, max_folds=1, train_kwargs={"max_epochs": 1}, baselines=False
    )
    assert set(named["model"]) == {"GRIP"}
    assert named.query("metric == 'mae'")["value"].notna().all()


def test_evaluate_trains_named_models_with_the_preset(plate):
    adata = plate.copy()
    table = sctl.tl.evaluate_perturbation(
        adata, ["SeqPerturb"], "mixed", n_folds=3, max_folds=1, train_kwargs={"max_epochs": 1}, preset="paper"
    )
    assert adata.uns["sctl_evaluate_perturbation"]["params"]["preset"] == "paper"
    assert table.query("model == 'SeqPerturb' and metric == 'mae'")["value"].notna().all()
    with pytest.raises(ValueError, match="Unknown preset"):
        sctl.tl.evaluate_perturbation(plate, [], preset="nature")


class _KnownDrugsOnly:
    """Per-drug mean change that, like identity-embedding models, cannot predict a drug it never saw."""

    predicts = "delta"

    def __init__(self, train: AnnData):
        delta = pd.DataFrame(train.layers["sctl_delta"], index=train.obs_names, columns=train.var_names)
        self.means = delta.groupby(train.obs["drug"].astype(str).to_numpy()).mean()

    def predict(self, adata: AnnData, **kwargs) -> pd.DataFrame:
        drugs = adata.obs["drug"].astype(str)
        unseen = sorted(set(drugs) - set(self.means.index))
        if unseen:
            raise KeyError(f"unknown drugs {unseen}")
        return pd.DataFrame(self.means.loc[drugs].to_numpy(), index=adata.obs_names, columns=self.means.columns)


def test_evaluate_scores_the_seen_profiles_of_a_fold_with_an_unseen_drug(plate):
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    drug = treated.obs["drug"].astype(str).to_numpy()
    drug[0] = "only_once"  # a drug with one profile: whichever fold tests it has never seen it
    treated.obs["drug"] = pd.Categorical(drug)
    table = sctl.tl.evaluate_perturbation(treated, {"known": _KnownDrugsOnly}, scheme="mixed", n_folds=3)
    known = table.query("model == 'known' and metric == 'mae'")
    assert len(known) == 3  # one row per fold
    assert known["value"].notna().all()  # every fold scored, none blanked by the one unseen profile
    partial = known[known["note"].str.contains("not scored")]
    assert len(partial) >= 1  # the fold testing "only_once" (and any other fold holding a drug's every profile)
    skipped = partial["note"].str.extract(r"^(\d+) of (\d+) profiles").astype(int)
    assert ((skipped[0] >= 1) & (skipped[0] < skipped[1])).all()
    assert (skipped[1] == partial["n_test"]).all()


def test_evaluate_disjoint_tests_unseen_drug_and_cell_line_pairs(plate):
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    treated.obs["cell_line"] = pd.Categorical(np.arange(treated.n_obs) % 4).rename_categories(list("ABCD"))
    trained, tested = [], []

    def conditions(adata: AnnData) -> tuple[set, set]:
        return set(adata.obs["drug"].astype(str)), set(adata.obs["cell_line"].astype(str))

    class Recorder(_KnownDrugsOnly):
        def __init__(self, train: AnnData):
            super().__init__(train)
            trained.append(conditions(train))

        def predict(self, adata: AnnData, **kwargs) -> pd.DataFrame:
            tested.append(conditions(adata))
            return super().predict(adata, **kwargs)

    table = sctl.tl.evaluate_perturbation(treated, {"known": Recorder}, scheme="disjoint", n_folds=3)
    rows = table.query("model == 'zero_change' and metric == 'mae'")
    assert list(rows["fold"]) == [0, 1, 2]
    # fold f tests the profiles whose drug and line are both in f (about 1/9 of them each); the profiles with only
    # one of the two in f neither train nor test it
    assert 0 < rows["n_test"].sum() < treated.n_obs / 2
    assert (rows["n_train"] + rows["n_test"] < treated.n_obs).all()
    assert len(trained) == len(tested) == 3
    for (train_drugs, train_lines), (test_drugs, test_lines) in zip(trained, tested, strict=True):
        assert test_drugs
        assert test_lines
        assert not train_drugs & test_drugs
        assert not train_lines & test_lines
    known = table.query("model == 'known' and metric == 'mae'")
    assert len(known) == 3  # one row per fold
    assert known["note"].str.contains("cannot predict").all()  # every test drug is new to its fold


def test_evaluate_errors(plate):
    with pytest.raises(ValueError, match="Unknown scheme"):
        sctl.tl.evaluate_perturbation(plate, [], scheme="tissue")
    with pytest.raises(ValueError, match=r"'cell_blind' needs at least n_folds=3 \(and 2\) values.*found 1"):
        sctl.tl.evaluate_perturbation(plate, [], scheme="cell_blind")
    with pytest.raises(ValueError, match="single cell line, 'drug_blind'"):
        sctl.tl.evaluate_perturbation(plate, [], scheme="disjoint")
    with pytest.raises(ValueError, match=r"'random'.*choose one of 'mixed'"):
        sctl.tl.evaluate_perturbation(plate, [], scheme="random")  # pp.split's names
    with pytest.raises(ValueError, match="Unknown model"):
        sctl.tl.evaluate_perturbation(plate, ["scGPT"])
    with pytest.raises(KeyError, match="nope"):
        sctl.tl.evaluate_perturbation(plate, [], delta_layer="nope")


class _ExtraGene:
    """Predicts a change for a gene the AnnData does not have."""

    predicts = "delta"

    def predict(self, adata: AnnData, **kwargs) -> pd.DataFrame:
        genes = [*adata.var_names[:2], "NOT_A_GENE"]
        return pd.DataFrame(0.5, index=adata.obs_names, columns=genes)


def test_predict_perturbation_refuses_genes_the_anndata_lacks(plate):
    no_basal = plate[~plate.obs["is_control"].to_numpy()].copy()
    for layer in list(no_basal.layers):
        del no_basal.layers[layer]  # without a basal layer the unknown gene went silently into the last column
    layers_before = set(no_basal.layers)
    with pytest.raises(ValueError, match="1 genes that `adata` lacks"):
        sctl.tl.predict_perturbation(no_basal, _ExtraGene(), "x")
    assert set(no_basal.layers) == layers_before
