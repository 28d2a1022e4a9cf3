import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl
from sctl.metrics import auroc

METRICS = ["precision", "recall", "f1", "auroc", "ap", "accuracy"]


@pytest.fixture(scope="module")
def landmark_bulk():
    bulk = sctl.datasets.gdsc()
    return bulk[:, bulk.var["landmark"].to_numpy()].copy()


@pytest.fixture(scope="module")
def bulk_cv(landmark_bulk):
    bulk = landmark_bulk.copy()
    table = sctl.tl.evaluate_response(
        bulk,
        drug="Dabrafenib",
        methods=["decomposed_ridge", "logreg", "rf"],
        seeds=[0, 1],
        n_folds=3,
        model_kwargs={"rf": {"n_estimators": 50}},
    )
    return bulk, table


def _toy(n_lines: int = 60, n_cells: int = 120, n_genes: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    x = rng.normal(size=(n_lines, n_genes))
    ic50 = -x[:, :3].sum(1) + rng.normal(scale=0.5, size=n_lines)
    bulk = AnnData(
        x.astype(np.float32), obs=pd.DataFrame(index=[f"l{i}" for i in range(n_lines)]), var=pd.DataFrame(index=genes)
    )
    bulk.obsm["ln_ic50"] = pd.DataFrame({"A": ic50}, index=bulk.obs_names)
    z = rng.normal(size=(n_cells, n_genes))
    truth = np.where(z[:, :3].sum(1) > 0, "sensitive", "resistant")
    cells = AnnData(
        (2 + 0.5 * z).astype(np.float32),
        obs=pd.DataFrame({"truth": truth}, index=[f"c{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=genes),
    )
    return bulk, cells


def test_bulk_cv_table_is_tidy_and_matches_raw_scores(bulk_cv):
    bulk, table = bulk_cv
    assert list(table.columns) == ["setting", "method", "metric", "mean", "std", "n"]
    assert set(table["setting"]) == {"bulk_cv"}
    assert list(table["method"].unique()) == ["decomposed_ridge", "logreg", "rf"]
    assert list(table["metric"].unique()) == METRICS
    assert (table["n"] == 6).all()  # 3 folds x 2 seeds
    scores = bulk.uns["sctl_evaluate_response"]["scores"]
    for method in ("decomposed_ridge", "logreg", "rf"):
        raw = scores[(scores["method"] == method) & (scores["metric"] == "auroc")]["value"]
        row = table[(table["method"] == method) & (table["metric"] == "auroc")].iloc[0]
        assert row["mean"] == pytest.approx(raw.mean())
        assert row["std"] == pytest.approx(raw.std(ddof=1))
        assert row["mean"] > 0.7  # Dabrafenib (BRAF) is learnable from expression


def test_bulk_cv_keeps_out_of_fold_predictions_and_the_label_rule(bulk_cv):
    bulk, _ = bulk_cv
    entry = bulk.uns["sctl_evaluate_response"]
    params = entry["params"]
    assert params["label_rule"]["method"] == "extremes"
    assert params["label_rule"]["k"] == 0.3
    assert params["label_rule"]["sensitive_cutoff"] < params["label_rule"]["resistant_cutoff"]
    n_labelled = params["n_sensitive"] + params["n_resistant"]
    pred = entry["predictions"].query("method == 'logreg'")
    for _, per_seed in pred.groupby("seed"):
        assert per_seed["obs_name"].is_unique  # every labelled line scored once per seed, out of fold
        assert len(per_seed) == n_labelled
    one_fold = pred.query("seed == 0 and fold == 1")
    stored = entry["scores"].query("method == 'logreg' and seed == 0 and fold == 1 and metric == 'auroc'")
    assert stored["value"].iloc[0] == pytest.approx(auroc(one_fold["truth"], one_fold["proba"]))
    assert "sctl_label" not in bulk.obs  # the user's AnnData gets only .uns[key_added]


def test_transfer_scores_labelled_cells(landmark_bulk):
    cells = sctl.datasets.tumor("Dabrafenib", n_cells=400)
    ref = landmark_bulk[~landmark_bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])].copy()
    obs_before, uns_before = list(cells.obs.columns), list(cells.uns)
    table = sctl.tl.evaluate_response(
        cells,
        ref,
        "Dabrafenib",
        methods=["logreg", "signature"],
        truth_key="response",
        cv=False,
        seeds=[0],
        key_added="eval",
    )
    assert set(table["setting"]) == {"transfer"}
    assert (table["n"] == 1).all()
    assert table["std"].isna().all()
    pred = cells.uns["eval"]["predictions"]
    assert len(pred) == 2 * cells.n_obs
    assert list(cells.obs.columns) == obs_before
    assert list(cells.uns) == [*uns_before, "eval"]
    logreg = pred.query("method == 'logreg'")
    row = table.query("method == 'logreg' and metric == 'auroc'").iloc[0]
    assert row["mean"] == pytest.approx(auroc(logreg["truth"], logreg["proba"]))
    # the transfer setting scores cells exactly as predict_response does
    sctl.tl.predict_response(cells, reference=ref, drug="Dabrafenib", method="logreg", seed=0)
    np.testing.assert_allclose(logreg["proba"].to_numpy(), cells.obs["sctl_response_proba"].to_numpy(), atol=1e-6)


def test_estimator_arguments_reach_both_settings():
    bulk, cells = _toy()
    table = sctl.tl.evaluate_response(
        cells,
        bulk,
        "A",
        methods=["rf"],
        truth_key="truth",
        n_folds=2,
        seeds=[3],
        model_kwargs={"rf": {"n_estimators": 5, "max_depth": 1}},
    )
    assert set(table["setting"]) == {"bulk_cv", "transfer"}
    assert cells.uns["sctl_evaluate_response"]["params"]["seeds"] == [3]


def test_both_settings_and_transfer_model_in_cv():
    bulk, cells = _toy()
    table = sctl.tl.evaluate_response(
        cells,
        bulk,
        "A",
        methods=["logreg", "pathway_transfer"],
        truth_key="truth",
        n_folds=2,
        seeds=[0],
        model_kwargs={"pathway_transfer": {"pathway_decoder": False, "n_hidden": 16, "n_latent": 8}},
        train_kwargs={"max_epochs": 1, "enable_progress_bar": False, "accelerator": "cpu"},
    )
    assert set(table["setting"]) == {"bulk_cv", "transfer"}
    assert set(table["method"]) == {"logreg", "pathway_transfer"}
    assert table["mean"].between(0, 1).all()
    logreg = table.query("setting == 'bulk_cv' and method == 'logreg' and metric == 'auroc'")["mean"].iloc[0]
    assert logreg > 0.8


def test_errors_say_what_to_do():
    bulk, cells = _toy()
    with pytest.raises(ValueError, match="Did you mean 'logreg'"):
        sctl.tl.evaluate_response(bulk, drug="A", methods=["logrge"])
    with pytest.raises(ValueError, match="too few labelled lines"):
        sctl.tl.evaluate_response(bulk[:12].copy(), drug="A", methods=["logreg"], n_folds=5)
    with pytest.raises(ValueError, match="Unknown method 'ridge'"):  # a regressor, not a classifier
        sctl.tl.evaluate_response(bulk, drug="A", methods=["ridge"])
    with pytest.raises(ValueError, match="needs cells"):
        sctl.tl.evaluate_response(bulk, drug="A", methods=["atsdp"])
    with pytest.raises(ValueError, match="no `reference`"):
        sctl.tl.evaluate_response(bulk, drug="A", truth_key="truth")
    with pytest.raises(ValueError, match=r"`drug=\.\.\.`"):
        sctl.tl.evaluate_response(bulk)
    with pytest.raises(KeyError, match="nope"):
        sctl.tl.evaluate_response(cells, bulk, "A", methods=["logreg"], truth_key="nope", cv=False)


def test_cells_cv_scores_every_labelled_cell_once_per_seed():
    bulk, cells = _toy()
    cells.obs.loc[cells.obs_names[:6], "truth"] = np.nan  # unknown labels: neither trained on nor scored
    table = sctl.tl.evaluate_response(
        cells,
        bulk,
        "A",
        methods=["logreg", "dt", "xgb"],
        truth_key="truth",
        protocol="cells_cv",
        n_folds=3,
        seeds=[0, 1],
        model_kwargs={"xgb": {"n_estimators": 20}},
    )
    assert set(table["setting"]) == {"cells_cv"}  # no bulk CV, no transfer to all cells
    assert list(table["method"].unique()) == ["logreg", "dt", "xgb"]
    assert (table["n"] == 6).all()  # 3 folds x 2 seeds
    entry = cells.uns["sctl_evaluate_response"]
    params = entry["params"]
    assert params["protocol"] == "cells_cv"
    assert (params["n_folds"], params["seeds"]) == (3, [0, 1])
    n_known = int(cells.obs["truth"].notna().sum())
    assert params["n_cells_sensitive"] + params["n_cells_resistant"] == n_known
    pred = entry["predictions"]
    for (_, _), per_run in pred.groupby(["method", "seed"]):
        assert per_run["obs_name"].is_unique
        assert len(per_run) == n_known
        assert not per_run["obs_name"].isin(cells.obs_names[:6]).any()
        for _, fold in per_run.groupby("fold"):  # stratified: both classes in every held-out fold
            assert fold["truth"].nunique() == 2
    # folds move with the seed
    seed0, seed1 = (pred.query(f"method == 'logreg' and seed == {s}").set_index("obs_name")["fold"] for s in (0, 1))
    assert not seed0.equals(seed1.loc[seed0.index])
    auroc_of = table.query("metric == 'auroc'").set_index("method")["mean"]
    assert auroc_of["logreg"] > 0.8  # learnt from the lines, scored on held-out cells
    assert auroc_of["dt"] > 0.6
    assert auroc_of["xgb"] > 0.6
    assert "sctl_label" not in cells.obs
    assert list(cells.obs.columns) == ["truth"]


def test_cells_cv_transfer_model_never_sees_held_out_cells_or_cell_labels(monkeypatch):
    bulk, cells = _toy()
    seen = []
    original = sctl.models.PathwayTransfer.from_reference.__func__

    def spy(cls, bulk, cells, drug, **kwargs):
        seen.append((list(cells.obs_names), list(cells.obs.columns)))
        return original(cls, bulk, cells, drug, **kwargs)

    monkeypatch.setattr(sctl.models.PathwayTransfer, "from_reference", classmethod(spy))
    table = sctl.tl.evaluate_response(
        cells,
        bulk,
        "A",
        methods=["pathway_transfer"],
        truth_key="truth",
        protocol="cells_cv",
        n_folds=2,
        seeds=[0],
        model_kwargs={"pathway_transfer": {"pathway_decoder": False, "n_hidden": 16, "n_latent": 8}},
        train_kwargs={"max_epochs": 1, "enable_progress_bar": False, "accelerator": "cpu"},
    )
    assert (table["n"] == 2).all()
    pred = cells.uns["sctl_evaluate_response"]["predictions"]
    assert len(seen) == 2  # one model per fold
    for fold, (trained_on, columns) in enumerate(seen):
        held_out = set(pred.query(f"fold == {fold}")["obs_name"])
        assert columns == []  # expression only: the cells' labels never reach the model
        assert held_out.isdisjoint(trained_on)
        assert held_out | set(trained_on) == set(cells.obs_names)
    assert table["mean"].between(0, 1).all()


def test_protocol_defaults_and_errors():
    bulk, cells = _toy()
    table = sctl.tl.evaluate_response(cells, bulk, "A", methods=["logreg"], truth_key="truth", protocol="cells_cv")
    assert (table["n"] == 100).all()  # the paper's 10-fold CV x 10 seeds
    assert cells.uns["sctl_evaluate_response"]["params"]["seeds"] == list(range(10))
    sctl.tl.evaluate_response(bulk, drug="A", methods=["logreg"], seeds=[0])
    params = bulk.uns["sctl_evaluate_response"]["params"]
    assert (params["protocol"], params["n_folds"]) == ("reference", 5)
    with pytest.raises(ValueError, match=r"Unknown protocol 'cell_cv'\. Did you mean 'cells_cv'"):
        sctl.tl.evaluate_response(cells, bulk, "A", truth_key="truth", protocol="cell_cv")
    with pytest.raises(ValueError, match="`truth_key=`"):
        sctl.tl.evaluate_response(cells, bulk, "A", protocol="cells_cv")
    with pytest.raises(ValueError, match="`truth_key=`"):
        sctl.tl.evaluate_response(bulk, drug="A", protocol="cells_cv")
    cells.obs["truth"] = np.where(np.arange(cells.n_obs) < 4, "sensitive", "resistant")
    with pytest.raises(ValueError, match=r"Lower `n_folds` or label more cells"):
        sctl.tl.evaluate_response(cells, bulk, "A", truth_key="truth", protocol="cells_cv", n_folds=5)


@pytest.mark.parametrize("method", ["dt", "xgb"])
def test_tree_baselines_run_through_predict_response(method):
    bulk, cells = _toy(n_lines=120)
    sctl.tl.predict_response(cells, reference=bulk, drug="A", method=method, min_shared=10)
    proba = cells.obs["sctl_response_proba"].to_numpy()
    assert proba.shape == (cells.n_obs,)
    assert auroc(cells.obs["truth"], proba) > 0.7  # a constant scores 0.5
