import sys

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData, concat
from scipy import sparse
from sklearn.exceptions import NotFittedError

from sctl.metrics import auroc, rmse
from sctl.models.baselines import (
    BASELINES,
    CellLineMean,
    DecisionTreeBaseline,
    DrugMean,
    GradientBoostingBaseline,
    LogisticBaseline,
    MeanEffects,
    RandomForestBaseline,
    RidgeBaseline,
    SignatureScore,
    SVMBaseline,
    XGBoostBaseline,
    get_baseline,
)

CLASSIFIERS = ["logreg", "rf", "gb", "svm", "dt", "xgb", "signature"]
REGRESSORS = ["ridge", "rf", "gb", "svm", "dt", "xgb"]


def _bulk(seed: int = 0, n_obs: int = 240, n_genes: int = 30, n_unlabelled: int = 20) -> AnnData:
    """Cell lines whose LN_IC50 falls with genes g0..g2; the lowest half is labelled sensitive."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_obs, n_genes))
    ln_ic50 = -X[:, :3].sum(axis=1) + rng.normal(scale=0.5, size=n_obs)
    labels = np.where(ln_ic50 < np.median(ln_ic50), "sensitive", "resistant").astype(object)
    labels[rng.choice(n_obs, n_unlabelled, replace=False)] = np.nan
    obs = pd.DataFrame(
        {
            "sctl_label": pd.Categorical(labels, categories=["resistant", "sensitive"]),
            "ln_ic50": ln_ic50,
        },
        index=[f"line{i}" for i in range(n_obs)],
    )
    return AnnData(X.astype(np.float32), obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]))


@pytest.fixture(scope="module")
def split():
    adata = _bulk()
    return adata[:160].copy(), adata[160:].copy()


def _held_out(test: AnnData, key: str = "sctl_label") -> AnnData:
    return test[test.obs[key].notna().to_numpy()].copy()


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_learn_held_out_rows(split, name):
    train, test = split
    model = get_baseline(name, seed=0).fit(train, label_key="sctl_label")
    test = _held_out(test)
    proba = model.predict(test)
    assert proba.shape == (test.n_obs,)
    assert proba.dtype == np.float64
    assert ((proba >= 0) & (proba <= 1)).all()
    truth = test.obs["sctl_label"]
    score = auroc(truth, proba)
    assert score > 0.8
    assert score > auroc(truth, np.full(test.n_obs, 0.5))  # a constant predictor scores 0.5
    assert model.task == "classification"
    assert list(model.classes_) == ["resistant", "sensitive"]
    assert model.label_key_ == "sctl_label"
    assert list(model.var_names_) == list(train.var_names)
    assert model.n_train_ == int(train.obs["sctl_label"].notna().sum())


@pytest.mark.parametrize("name", REGRESSORS)
def test_regressors_beat_the_mean(split, name):
    train, test = split
    model = get_baseline(name, seed=0).fit(train, label_key="ln_ic50")
    prediction = model.predict(test)
    truth = test.obs["ln_ic50"].to_numpy()
    assert model.task == "regression"
    assert model.classes_ is None
    gain = 0.9 if name == "dt" else 0.8  # a single tree is a step function of three genes: coarser
    assert rmse(truth, prediction) < gain * rmse(truth, np.full_like(truth, train.obs["ln_ic50"].mean()))


@pytest.mark.parametrize(
    "cls", [RandomForestBaseline, GradientBoostingBaseline, SVMBaseline, DecisionTreeBaseline, XGBoostBaseline]
)
def test_task_follows_the_labels(split, cls):
    train, _ = split
    assert cls().task is None
    assert cls().fit(train, "sctl_label").task == "classification"
    assert cls().fit(train, "ln_ic50").task == "regression"


@pytest.mark.parametrize("name", ["rf", "gb", "svm", "dt", "xgb", "logreg", "signature"])
def test_same_seed_same_numbers(split, name):
    train, test = split
    first = get_baseline(name, seed=3).fit(train).predict(test)
    second = get_baseline(name, seed=3).fit(train).predict(test)
    np.testing.assert_array_equal(first, second)


def test_different_seed_changes_a_forest(split):
    train, test = split
    first = RandomForestBaseline(seed=1, n_estimators=20).fit(train).predict(test)
    second = RandomForestBaseline(seed=2, n_estimators=20).fit(train).predict(test)
    assert not np.array_equal(first, second)


def test_predict_reorders_genes_and_ignores_extras(split):
    train, test = split
    model = LogisticBaseline().fit(train)
    expected = model.predict(test)
    shuffled = test[:, np.random.default_rng(1).permutation(test.n_vars)].copy()
    extra = AnnData(np.ones((test.n_obs, 2), dtype=np.float32), obs=test.obs[[]], var=pd.DataFrame(index=["x", "y"]))
    wider = concat([shuffled, extra], axis=1)
    np.testing.assert_allclose(model.predict(shuffled), expected, rtol=1e-10)
    np.testing.assert_allclose(model.predict(wider), expected, rtol=1e-10)


def test_sparse_layers_and_chunks_match_dense(split):
    train, test = split
    model = LogisticBaseline().fit(train)
    expected = model.predict(test)
    sparse_train, sparse_test = train.copy(), test.copy()
    sparse_train.layers["expr"] = sparse.csr_matrix(train.X)
    sparse_test.layers["expr"] = sparse.csr_matrix(test.X)
    sparse_train.X = np.zeros_like(train.X)
    from_layer = LogisticBaseline().fit(sparse_train, layer="expr")
    np.testing.assert_allclose(from_layer.predict(sparse_test, layer="expr"), expected, rtol=1e-10)
    model.chunk_size = 7
    np.testing.assert_allclose(model.predict(test), expected, rtol=1e-10)
    assert model.predict(test[:0]).shape == (0,)


def test_only_labelled_rows_are_read(split):
    train, test = split
    unlabelled = np.flatnonzero(train.obs["sctl_label"].isna().to_numpy())[0]
    holey = train.copy()
    holey.X[unlabelled, 0] = np.nan  # NaN in a row the model never sees
    np.testing.assert_array_equal(
        LogisticBaseline().fit(holey).predict(test), LogisticBaseline().fit(train).predict(test)
    )


def test_fit_and_predict_leave_adata_untouched(split):
    train, test = split
    train, test = train.copy(), test.copy()
    train.X = train.X.astype(np.float64)  # no dtype conversion to hide behind
    test.X = test.X.astype(np.float64)
    before = [(a.X.copy(), a.obs.copy(), list(a.var_names), dict(a.layers), dict(a.uns)) for a in (train, test)]
    for name in BASELINES:
        key = "ln_ic50" if name == "ridge" else "sctl_label"
        get_baseline(name, seed=0).fit(train, key).predict(test)
    for adata, (X, obs, var_names, layers, uns) in zip((train, test), before, strict=True):
        np.testing.assert_array_equal(adata.X, X)
        pd.testing.assert_frame_equal(adata.obs, obs)
        assert list(adata.var_names) == var_names
        assert dict(adata.layers) == layers
        assert dict(adata.uns) == uns


@pytest.mark.parametrize(
    ("labels", "classes"),
    [
        (np.array([True, False] * 20), [False, True]),
        (np.array([1, 0] * 20), [0, 1]),
        (
            pd.Categorical(["resistant", "sensitive"] * 20, categories=["sensitive", "resistant"]),
            ["resistant", "sensitive"],
        ),
        (np.array(["no", "yes"] * 20, dtype=object), ["no", "yes"]),
    ],
)
def test_positive_class_is_second(labels, classes):
    adata = _bulk(n_obs=40, n_unlabelled=0)
    adata.obs["y"] = labels
    model = LogisticBaseline().fit(adata, "y")
    assert list(model.classes_) == classes


def test_signature_score_by_hand(split):
    train, test = split
    model = SignatureScore().fit(train)
    labelled = train[train.obs["sctl_label"].notna().to_numpy()]
    X = labelled.X.astype(np.float64)
    sensitive = (labelled.obs["sctl_label"] == "sensitive").to_numpy()
    signature = X[sensitive].mean(axis=0) - X[~sensitive].mean(axis=0)
    np.testing.assert_allclose(model.signature_.to_numpy(), signature, rtol=1e-10)
    assert list(model.signature_.index) == list(train.var_names)
    centred = test.X.astype(np.float64) - X.mean(axis=0)
    expected = [np.corrcoef(row, signature)[0, 1] for row in centred]
    scores = model.score(test)
    np.testing.assert_allclose(scores, expected, rtol=1e-8)
    # the probability is a monotone (logistic) function of the score
    proba = model.predict(test)
    order = np.argsort(scores)
    assert (np.diff(proba[order]) >= 0).all()


def test_registry_and_get_baseline():
    assert set(BASELINES) == {"logreg", "ridge", "rf", "gb", "svm", "dt", "xgb", "signature"}
    model = get_baseline("rf", seed=4, n_estimators=10)
    assert isinstance(model, RandomForestBaseline)
    assert model.seed == 4
    assert model.estimator_kwargs == {"n_estimators": 10}
    assert repr(model) == "RandomForestBaseline(seed=4, n_estimators=10)"
    assert isinstance(get_baseline("ridge"), RidgeBaseline)
    with pytest.raises(ValueError, match=r"Unknown baseline 'logref'\. Did you mean 'logreg'\?.*'signature'"):
        get_baseline("logref")
    with pytest.raises(ValueError, match=r"Unknown baseline 'xgboost'\..*'dt', 'xgb'"):
        get_baseline("xgboost")


def test_xgboost_missing_says_what_to_install(split, monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost now raises ImportError
    model = get_baseline("xgb")  # building the baseline needs no XGBoost, fitting does
    with pytest.raises(ImportError, match=r"pip install xgboost-cpu"):
        model.fit(split[0])


def test_xgboost_balances_the_classes(split):
    train, _ = split
    train = train[(train.obs["sctl_label"] != "sensitive").to_numpy() | (np.arange(train.n_obs) % 3 == 0)].copy()
    counts = train.obs["sctl_label"].value_counts()
    model = XGBoostBaseline(n_estimators=5).fit(train)
    assert model.estimator_.get_params()["scale_pos_weight"] == pytest.approx(counts["resistant"] / counts["sensitive"])


def test_unfitted_model_raises():
    with pytest.raises(NotFittedError, match=r"call \.fit\(adata\) first"):
        LogisticBaseline().predict(_bulk(n_obs=4, n_unlabelled=0))
    with pytest.raises(NotFittedError, match=r"call \.fit\(adata\) first"):
        SignatureScore().score(_bulk(n_obs=4, n_unlabelled=0))


def test_wrong_genes_raise(split):
    train, test = split
    model = LogisticBaseline().fit(train)
    with pytest.raises(ValueError, match="lacks 2 of the 30 genes"):
        model.predict(test[:, 2:].copy())


def test_nan_in_expression_raises(split):
    train, test = split
    bad = train.copy()
    labelled = np.flatnonzero(bad.obs["sctl_label"].notna().to_numpy())[0]
    bad.X[labelled, 3] = np.nan
    with pytest.raises(ValueError, match="contains 1 NaN"):
        LogisticBaseline().fit(bad)
    model = LogisticBaseline().fit(train)
    bad_test = test.copy()
    bad_test.X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        model.predict(bad_test)


def test_one_class_raises(split):
    train, _ = split
    one = train.copy()
    one.obs["sctl_label"] = pd.Categorical(["sensitive"] * one.n_obs, categories=["resistant", "sensitive"])
    for name in CLASSIFIERS:
        with pytest.raises(ValueError, match="need two classes"):
            get_baseline(name).fit(one)


def test_label_type_errors(split):
    train, _ = split
    with pytest.raises(ValueError, match="continuous"):
        LogisticBaseline().fit(train, "ln_ic50")
    with pytest.raises(ValueError, match="is not numeric"):
        RidgeBaseline().fit(train, "sctl_label")
    with pytest.raises(KeyError, match="Did you mean 'sctl_label'"):
        LogisticBaseline().fit(train, "sctl_labels")
    with pytest.raises(ValueError, match="instead of `random_state=`"):
        LogisticBaseline(random_state=0)
    three = train.copy()
    three.obs["y"] = np.array(["a", "b", "c"] * 60)[: three.n_obs]
    with pytest.raises(ValueError, match="holds 3 classes"):
        LogisticBaseline().fit(three, "y")


def test_ridge_alpha_choice(split):
    train, _ = split
    fixed = RidgeBaseline(alpha=10.0).fit(train, "ln_ic50")
    assert fixed.estimator_[-1].alpha == 10.0
    tuned = RidgeBaseline().fit(train, "ln_ic50")
    assert tuned.estimator_[-1].alpha_ > 0


# ---------------------------------------------------------------------------------------------- naive
@pytest.fixture
def tiny():
    """Cell lines A, B, C x drugs d1, d2; B was not tested with d2."""
    response = pd.DataFrame({"d1": [1.0, 2.0, 5.0], "d2": [3.0, np.nan, 9.0]}, index=["A", "B", "C"])
    adata = AnnData(np.zeros((3, 1), dtype=np.float32), obs=pd.DataFrame(index=response.index))
    adata.obsm["ln_ic50"] = response
    return adata


def _pairs(*pairs):
    return pd.DataFrame(pairs, columns=["cell_line", "drug"])


def test_drug_mean_by_hand(tiny):
    model = DrugMean().fit(tiny)
    assert model.global_mean_ == pytest.approx(4.0)  # (1 + 2 + 5 + 3 + 9) / 5
    np.testing.assert_allclose(model.predict(_pairs(("A", "d1"), ("B", "d2"), ("Z", "d9"))), [8 / 3, 6.0, 4.0])
    assert model.n_train_ == 5
    assert model.key_ == "ln_ic50"


def test_cell_line_mean_by_hand(tiny):
    model = CellLineMean().fit(tiny)
    np.testing.assert_allclose(model.predict(_pairs(("A", "d1"), ("B", "d2"), ("C", "d9"), ("Z", "d1"))), [2, 2, 7, 4])


def test_mean_effects_by_hand(tiny):
    # least squares: line levels A 0.5, B 2, C 5.5 and d2 - d1 = 3; centred over the five entries
    model = MeanEffects().fit(tiny)
    assert model.global_mean_ == pytest.approx(4.0)
    assert model.drug_effects_["d1"] == pytest.approx(-1.2)
    assert model.drug_effects_["d2"] == pytest.approx(1.8)
    np.testing.assert_allclose(model.cell_line_effects_[["A", "B", "C"]], [-2.3, -0.8, 2.7], atol=1e-7)
    pairs = _pairs(("A", "d1"), ("A", "d2"), ("B", "d2"), ("C", "d2"), ("A", "d9"), ("Z", "d2"), ("Z", "d9"))
    # unseen drug d9 -> global mean + line effect; unseen line Z -> global mean + drug effect;
    # both unseen -> global mean
    np.testing.assert_allclose(model.predict(pairs), [0.5, 3.5, 5.0, 8.5, 1.7, 5.8, 4.0], atol=1e-7)


def test_mean_effects_on_a_full_table_is_two_way_anova(rng):
    table = pd.DataFrame(rng.normal(size=(6, 4)), index=list("abcdef"), columns=["w", "x", "y", "z"])
    adata = AnnData(np.zeros((6, 1), dtype=np.float32), obs=pd.DataFrame(index=table.index))
    adata.obsm["auc"] = table
    model = MeanEffects().fit(adata, "auc")
    pairs = _pairs(*[(line, drug) for line in table.index for drug in table.columns])
    expected = [
        table.loc[c].mean() + table[d].mean() - table.to_numpy().mean()
        for c, d in zip(pairs.cell_line, pairs.drug, strict=True)
    ]
    np.testing.assert_allclose(model.predict(pairs), expected, atol=1e-8)


def test_naive_training_pairs_restrict_the_fit(tiny):
    model = DrugMean().fit(tiny, pairs=_pairs(("A", "d1"), ("A", "d2"), ("C", "d1")))
    np.testing.assert_allclose(model.predict(_pairs(("B", "d1"), ("B", "d2"))), [3.0, 3.0])
    assert model.global_mean_ == pytest.approx(3.0)


def test_naive_errors(tiny):
    with pytest.raises(NotFittedError, match=r"call \.fit\(adata\) first"):
        DrugMean().predict(_pairs(("A", "d1")))
    with pytest.raises(ValueError, match="untested"):
        DrugMean().fit(tiny, pairs=_pairs(("B", "d2")))
    with pytest.raises(KeyError, match="absent from"):
        MeanEffects().fit(tiny, pairs=_pairs(("Z", "d1")))
    with pytest.raises(ValueError, match="more than once"):
        CellLineMean().fit(tiny, pairs=_pairs(("A", "d1"), ("A", "d1")))
    with pytest.raises(KeyError, match="lacks the column"):
        DrugMean().fit(tiny).predict(pd.DataFrame({"line": ["A"], "drug": ["d1"]}))
    with pytest.raises(KeyError, match="No response matrix"):
        DrugMean().fit(tiny, "auc")


def test_naive_fit_leaves_adata_untouched(tiny):
    before = tiny.obsm["ln_ic50"].copy()
    MeanEffects().fit(tiny).predict(_pairs(("B", "d2")))
    pd.testing.assert_frame_equal(tiny.obsm["ln_ic50"], before)
