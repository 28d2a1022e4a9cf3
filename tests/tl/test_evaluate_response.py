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
        bulk, drug="Dabrafenib", methods=["logreg", "rf"], seeds=[0, 1], n_folds=3,
        model_kwargs={"rf": {"n_estimators": 50}},
    )  # fmt: skip
    return bulk, table


def _toy(n_lines: int = 60, n_cells: int = 120, n_genes: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    x = rng.normal(size=(n_lines, n_genes))
    ic50 = -x[:, :3].sum(1) + rng.normal(scale=0.5, size=n_lines)
    bulk = AnnData(x.astype(np.float32), obs=pd.DataFrame(index=[f"l{i}" for i in range(n_lines)]),
                   var=pd.DataFrame(index=genes))  # fmt: skip
    bulk.obsm["ln_ic50"] = pd.DataFrame({"A": ic50}, index=bulk.obs_names)
    z = rng.normal(size=(n_cells, n_genes))
    truth = np.where(z[:, :3].sum(1) > 0, "sensitive", "resistant")
    cells = AnnData((2 + 0.5 * z).astype(np.float32), obs=pd.DataFrame({"truth": truth},
                    index=[f"c{i}" for i in range(n_cells)]), var=pd.DataFrame(index=genes))  # fmt: skip
    return bulk, cells


def test_bulk_cv_table_is_tidy_and_matches_raw_scores(bulk_cv):
    bulk, table = bulk_cv
    assert list(table.columns) == ["setting", "method", "metric", "mean", "std", "n"]
    assert set(table["setting"]) == {"bulk_cv"}
    assert list(table["method"].unique()) == ["logreg", "rf"]
    assert list(table["metric"].unique()) == METRICS
    assert (table["n"] == 6).all()  # 3 folds x 2 seeds
    scores = bulk.uns["sctl_evaluate_response"]["scores"]
    for method in ("logreg", "rf"):
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
        cells, ref, "Dabrafenib", methods=["logreg", "signature"], truth_key="response", cv=False, seeds=[0],
        key_added="eval",
    )  # fmt: skip
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
        cells, bulk, "A", methods=["rf"], truth_key="truth", n_folds=2, seeds=[3],
        model_kwargs={"rf": {"n_estimators": 5, "max_depth": 1}},
    )  # fmt: skip
    assert set(table["setting"]) == {"bulk_cv", "transfer"}
    assert cells.uns["sctl_evaluate_response"]["params"]["seeds"] == [3]


def test_both_settings_and_transfer_model_in_cv():
    bulk, cells = _toy()
    table = sctl.tl.evaluate_response(
        cells, bulk, "A", methods=["logreg", "pathway_transfer"], truth_key="truth", n_folds=2, seeds=[0],
        model_kwargs={"pathway_transfer": {"pathway_decoder": False, "n_hidden": 16, "n_latent": 8}},
        train_kwargs={"max_epochs": 1, "enable_progress_bar": False, "accelerator": "cpu"},
    )  # fmt: skip
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
