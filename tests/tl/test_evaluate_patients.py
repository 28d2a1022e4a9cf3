"""sctl.tl.evaluate_patients: held-out GDSC lines with ridge-predicted LN_IC50 play the patients."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import sctl
from sctl.models.baselines import RidgeBaseline

DRUGS = ["Cisplatin", "Vorinostat"]


@pytest.fixture(scope="module")
def patients() -> ad.AnnData:
    """200 held-out lines; responders = the 30 % lowest true LN_IC50 of each drug (the planted split)."""
    bulk = sctl.datasets.gdsc()
    order = np.random.default_rng(0).permutation(bulk.n_obs)
    reference, held_out = bulk[order[200:]].copy(), bulk[order[:200]].copy()
    sctl.pp.standardize(reference, method="robust")
    sctl.pp.standardize(held_out, reference=reference)
    predictions, responses = {}, {}
    for drug in DRUGS:
        reference.obs["y"] = reference.obsm["ln_ic50"][drug]
        predictions[drug] = RidgeBaseline(alpha=1000.0).fit(reference, label_key="y").predict(held_out)
        truth = held_out.obsm["ln_ic50"][drug]
        responses[drug] = np.where(truth <= truth.quantile(0.3), "responder", "non-responder")
        responses[drug] = pd.Series(responses[drug], index=held_out.obs_names).where(truth.notna())
    held_out.obsm["pred"] = pd.DataFrame(predictions, index=held_out.obs_names)
    held_out.obsm["resp"] = pd.DataFrame(responses, index=held_out.obs_names)
    return held_out


def test_planted_split_is_recovered(patients):
    table = sctl.tl.evaluate_patients(patients, prediction_key="pred", response_key="resp")
    assert list(table["status"]) == ["tested", "tested"]
    assert set(table["drug"]) == set(DRUGS)
    assert (table["pvalue"] < 1e-6).all()
    assert (table["auroc"] > 0.8).all()
    assert (table["median_responders"] < table["median_non_responders"]).all()
    assert (table["pvalue_ttest"] < 1e-6).all()
    assert (table["qvalue"] >= table["pvalue"]).all()
    stored = patients.uns["sctl_evaluate_patients"]
    pd.testing.assert_frame_equal(stored["results"], table)
    assert stored["params"]["responder"] == ["responder"]


def test_null_split_is_not_significant(patients):
    null = patients.copy()
    rng = np.random.default_rng(1)
    null.obsm["resp"] = pd.DataFrame(
        {d: rng.permutation(null.obsm["resp"][d].to_numpy()) for d in DRUGS}, index=null.obs_names
    )
    table = sctl.tl.evaluate_patients(null, prediction_key="pred", response_key="resp")
    assert (table["pvalue"] > 0.05).all()
    assert ((table["auroc"] > 0.35) & (table["auroc"] < 0.65)).all()


def test_power_on_small_cohorts(patients):
    """In 50 cohorts of 30 patients (about 9 responders), the planted split is found almost always."""
    hits = 0
    for seed in range(50):
        rows = np.random.default_rng(seed).choice(patients.n_obs, 30, replace=False)
        cohort = ad.AnnData(obs=pd.DataFrame(index=patients.obs_names[rows]))
        cohort.obs["pred"] = patients.obsm["pred"]["Cisplatin"].to_numpy()[rows]
        truth = patients.obsm["ln_ic50"]["Cisplatin"].to_numpy()[rows]
        cohort.obs["resp"] = np.where(truth <= np.nanquantile(truth, 0.3), "responder", "non-responder")
        cohort.obs.loc[np.isnan(truth), "resp"] = np.nan
        table = sctl.tl.evaluate_patients(cohort, prediction_key="pred", response_key="resp")
        hits += table.loc[0, "pvalue"] < 0.05
    assert hits / 50 >= 0.8


def test_long_layout_probabilities_and_skipped_drugs(patients):
    long = ad.AnnData(
        obs=pd.DataFrame(
            {
                "drug": np.repeat(DRUGS, patients.n_obs),
                "proba": 1 / (1 + np.exp(np.concatenate([patients.obsm["pred"][d] for d in DRUGS]))),
                "outcome": pd.concat([patients.obsm["resp"][d] for d in DRUGS])
                .map({"responder": True, "non-responder": False})
                .to_numpy(),
            },
            index=[f"p{i}" for i in range(2 * patients.n_obs)],
        )
    )
    long.obs.loc[long.obs_names[:5], "drug"] = "Rare"  # five patients, at most two responders
    table = sctl.tl.evaluate_patients(
        long,
        prediction_key="proba",
        response_key="outcome",
        drug_key="drug",
        higher_is_sensitive=True,
        responder=True,
        key_added="eval",
    )
    wide = sctl.tl.evaluate_patients(patients, prediction_key="pred", response_key="resp")
    tested = table[table["status"] == "tested"].set_index("drug")
    assert (tested["pvalue"] < 1e-6).all()
    assert tested.loc["Vorinostat", "auroc"] == pytest.approx(wide.set_index("drug").loc["Vorinostat", "auroc"])
    rare = table.set_index("drug").loc["Rare"]
    assert rare["status"].startswith("skipped: 1 responders (min 3)")
    assert np.isnan(rare["pvalue"])
    assert "eval" in long.uns


def test_errors(patients):
    with pytest.raises(ValueError, match=r"No drug has at least 3 responders.*Cisplatin: 0 responders"):
        sctl.tl.evaluate_patients(patients, prediction_key="pred", response_key="resp", responder="Complete Response")
    with pytest.raises(KeyError, match="not found"):
        sctl.tl.evaluate_patients(patients, prediction_key="nope", response_key="resp")
    with pytest.raises(KeyError, match=r"must be an `\.obsm` DataFrame too"):
        sctl.tl.evaluate_patients(patients, prediction_key="pred", response_key="nope")
    with pytest.raises(ValueError, match="positive integer"):
        sctl.tl.evaluate_patients(patients, prediction_key="pred", response_key="resp", min_responders=0)
