"""evaluate_response runs every method of predict_response, the decomposed ridge and the ensemble in every protocol."""

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl
from sctl.metrics import auroc
from sctl.tl._evaluate_folds import LEARNERS
from sctl.tl._response_methods import METHODS

from .test_evaluate_response import _toy


def _screen(n_lines: int = 80, n_genes: int = 30, n_drugs: int = 6, seed: int = 0, shuffle: bool = False):
    """Lines x genes and a lines x drugs ln IC50 table: a general sensitivity (genes 0, 1) + one gene per drug."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_lines, n_genes))
    general = x[:, 0] + x[:, 1]
    table = {f"D{d}": general + 1.5 * x[:, 2 + d] + rng.normal(scale=0.5, size=n_lines) for d in range(n_drugs)}
    if shuffle:  # expression no longer tells anything about the response
        x = x[rng.permutation(n_lines)]
    bulk = AnnData(
        x.astype(np.float32),
        obs=pd.DataFrame(index=[f"l{i}" for i in range(n_lines)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]),
    )
    bulk.obsm["ln_ic50"] = pd.DataFrame(table, index=bulk.obs_names)
    return bulk


def _auroc(table: pd.DataFrame) -> pd.Series:
    return table.query("metric == 'auroc'").set_index("method")["mean"]


def test_every_method_of_predict_response_is_evaluated():
    assert set(LEARNERS) == set(METHODS)


def test_decomposed_ridge_beats_naive_baselines_in_bulk_cv():
    run = {"drug": "D0", "methods": ["decomposed_ridge", "logreg"], "seeds": [0, 1], "n_folds": 3}
    learnt = _auroc(sctl.tl.evaluate_response(_screen(), **run))
    shuffled = _auroc(sctl.tl.evaluate_response(_screen(shuffle=True), **run))
    assert learnt["decomposed_ridge"] > 0.9
    assert shuffled["decomposed_ridge"] < 0.7  # expression shuffled across lines: about chance (0.5)
    assert learnt["decomposed_ridge"] > learnt["logreg"]  # it learns from every line's response to every drug


def test_decomposed_ridge_never_sees_a_held_out_line(monkeypatch):
    bulk = _screen()
    fitted_on = []
    original = sctl.models.baselines.DecomposedRidge.fit

    def spy(self, adata, key, **kwargs):
        fitted_on.append((set(adata.obs_names), set(adata.obsm[key].index)))
        return original(self, adata, key, **kwargs)

    monkeypatch.setattr(sctl.models.baselines.DecomposedRidge, "fit", spy)
    sctl.tl.evaluate_response(bulk, drug="D0", methods=["decomposed_ridge"], seeds=[0], n_folds=3)
    pred = bulk.uns["sctl_evaluate_response"]["predictions"]
    assert len(fitted_on) == 3  # one fit per fold
    for fold, (lines, table_rows) in enumerate(fitted_on):
        held_out = set(pred.query(f"fold == {fold}")["obs_name"])
        assert lines == table_rows  # the response table restricted to the training lines
        assert lines == set(bulk.obs_names) - held_out  # unlabelled lines are trained on, never scored


def test_defaults_include_the_decomposed_ridge():
    bulk = _screen()
    table = sctl.tl.evaluate_response(bulk, drug="D0", seeds=[0], n_folds=3, model_kwargs={"rf": {"n_estimators": 20}})
    assert list(table["method"].unique()) == ["decomposed_ridge", "logreg", "signature", "rf"]


def test_ensemble_in_bulk_cv_is_the_mean_of_its_members():
    bulk = _screen()
    sctl.tl.evaluate_response(
        bulk,
        drug="D0",
        methods=["ensemble", "decomposed_ridge", "logreg"],
        seeds=[0, 1],
        n_folds=3,
        model_kwargs={"ensemble": {"members": ["decomposed_ridge", "logreg"]}},
    )
    pred = bulk.uns["sctl_evaluate_response"]["predictions"].set_index(["seed", "fold", "obs_name"])
    proba = {
        method: pred.query(f"method == '{method}'")["proba"] for method in ("ensemble", "decomposed_ridge", "logreg")
    }
    members = (proba["decomposed_ridge"] + proba["logreg"].loc[proba["decomposed_ridge"].index]) / 2
    np.testing.assert_allclose(proba["ensemble"].loc[members.index].to_numpy(), members.to_numpy())


def test_decomposed_ridge_and_ensemble_in_transfer_and_cells_cv():
    bulk, cells = _toy()
    sctl.tl.evaluate_response(
        cells,
        bulk,
        "A",
        methods=["decomposed_ridge", "ensemble"],
        truth_key="truth",
        cv=False,
        seeds=[0],
        model_kwargs={"ensemble": {"members": ["decomposed_ridge", "signature"]}},
    )
    transfer = cells.uns["sctl_evaluate_response"]["predictions"]
    # the transfer setting learns exactly as predict_response does
    sctl.tl.predict_response(cells, reference=bulk, drug="A", method="decomposed_ridge", min_shared=10)
    decomposed = transfer.query("method == 'decomposed_ridge'")["proba"].to_numpy()
    np.testing.assert_allclose(decomposed, cells.obs["sctl_response_proba"].to_numpy(), atol=1e-6)
    assert auroc(cells.obs["truth"], decomposed) > 0.8

    table = sctl.tl.evaluate_response(
        cells,
        bulk,
        "A",
        methods=["decomposed_ridge", "ensemble"],
        truth_key="truth",
        protocol="cells_cv",
        n_folds=3,
        seeds=[0, 1],
        model_kwargs={"ensemble": {"members": ["decomposed_ridge", "signature"]}},
    )
    assert set(table["setting"]) == {"cells_cv"}
    assert (table["n"] == 6).all()
    assert (_auroc(table) > 0.8).all()


def test_method_errors_name_the_valid_methods():
    bulk = _screen()
    with pytest.raises(ValueError, match=r"Unknown method 'lasso'\..*Valid names: 'decomposed_ridge', 'ensemble'"):
        sctl.tl.evaluate_response(bulk, drug="D0", methods=["decomposed_ridge", "lasso"])
    with pytest.raises(ValueError, match=r"'decomposed_ridge' does not accept: 'alpa'"):
        sctl.tl.evaluate_response(
            bulk, drug="D0", methods=["decomposed_ridge"], model_kwargs={"decomposed_ridge": {"alpa": 1}}
        )
    with pytest.raises(ValueError, match=r"Member 'atsdp' of the ensemble: .*needs cells"):
        sctl.tl.evaluate_response(bulk, drug="D0", methods=["ensemble"])  # default members hold ATSDPNet
    with pytest.raises(ValueError, match="at least two classifiers"):
        sctl.tl.evaluate_response(bulk, drug="D0", methods=["ensemble"], model_kwargs={"ensemble": {"members": ["rf"]}})
    assert "sctl_evaluate_response" not in bulk.uns  # refused before anything was fitted
