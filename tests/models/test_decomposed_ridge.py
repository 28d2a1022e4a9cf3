import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl
from sctl.metrics import auroc, drug_specificity
from sctl.models.baselines import DecomposedRidge


def _lines(seed: int = 0, n_lines: int = 300, n_genes: int = 80, n_drugs: int = 12):
    """Lines whose response is a general factor (genes g0-g4) plus a drug-specific one (gene g(5 + d) for drug d)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_lines, n_genes))
    general = X[:, :5].sum(axis=1) / np.sqrt(5)
    drugs = [f"drug{d}" for d in range(n_drugs)]
    response = np.column_stack([general + 1.5 * X[:, 5 + d] for d in range(n_drugs)])
    response += rng.normal(scale=0.3, size=response.shape)
    response[rng.random(response.shape) < 0.1] = np.nan  # untested pairs
    index = [f"line{i}" for i in range(n_lines)]
    bulk = AnnData(
        X.astype(np.float32), obs=pd.DataFrame(index=index), var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)])
    )
    bulk.obsm["ln_ic50"] = pd.DataFrame(response, index=index, columns=drugs)
    return bulk


def test_parts_recover_general_and_specific_signal():
    bulk, test = _lines(0), _lines(1)
    model = DecomposedRidge(alpha=1.0).fit(bulk, "ln_ic50")
    general, specific = model.predict_parts(test)
    assert general.shape == (test.n_obs,)
    assert specific.shape == (test.n_obs, 12)
    truth_general = test.X[:, :5].sum(axis=1)
    assert np.corrcoef(general, truth_general)[0, 1] > 0.8
    assert np.corrcoef(specific["drug3"], test.X[:, 8])[0, 1] > 0.8
    # the general part is read from the general genes, not from a drug's own gene
    assert abs(np.corrcoef(general, test.X[:, 8])[0, 1]) < 0.2
    response = model.predict_response(test)
    np.testing.assert_allclose(response["drug3"], general + specific["drug3"])
    observed = test.obsm["ln_ic50"]["drug3"]
    tested = observed.notna()
    assert np.corrcoef(response["drug3"][tested], observed[tested])[0, 1] > 0.8


def test_specific_weight_scales_the_specific_part_only():
    bulk, test = _lines(0), _lines(1)
    plain = DecomposedRidge(specific_weight=1.0).fit(bulk, "ln_ic50", drugs=["drug0", "drug1"])
    weighted = DecomposedRidge(specific_weight=2.0).fit(bulk, "ln_ic50", drugs=["drug0", "drug1"])
    general_1, specific_1 = plain.predict_parts(test)
    general_2, specific_2 = weighted.predict_parts(test)
    np.testing.assert_allclose(general_2, general_1)
    np.testing.assert_allclose(specific_2, 2 * specific_1)
    np.testing.assert_allclose(weighted.predict_response(test), specific_2.add(general_2, axis=0))
    # the chunked scorer's parts give the same probabilities
    center, weights, intercepts = weighted.linear_parts()
    parts = (np.asarray(test.X, dtype=np.float64) - center) @ weights + intercepts
    np.testing.assert_allclose(weighted.proba_from_parts(parts), weighted.predict(test).to_numpy())
    assert DecomposedRidge().specific_weight == 1.25
    assert "specific_weight=2" in repr(weighted)


def test_probabilities_rank_like_the_response_and_beat_a_constant():
    bulk, test = _lines(0), _lines(1)
    proba = DecomposedRidge().fit(bulk, "ln_ic50", drugs=["drug0", "drug1"]).predict(test)
    assert list(proba.columns) == ["drug0", "drug1"]
    assert ((proba >= 0) & (proba <= 1)).all().all()
    observed = test.obsm["ln_ic50"]["drug0"]
    tested = observed.notna()
    sensitive = observed[tested] < observed[tested].median()
    assert auroc(sensitive, proba["drug0"][tested]) > 0.85


def test_few_drugs_have_no_general_part():
    bulk = _lines(0, n_drugs=3)
    model = DecomposedRidge().fit(bulk, "ln_ic50")
    assert not model.has_general_
    general, _ = model.predict_parts(bulk)
    np.testing.assert_allclose(general, 0.0)


def test_drug_specificity_beats_the_raw_label_signature():
    """On one line's cells whose sub-populations respond to two drugs in opposite directions, the model tells the
    drugs apart better than the signature score learnt from raw labels."""
    bulk = sctl.datasets.gdsc()
    pair = ["Dabrafenib", "Afatinib"]
    cells = sctl.datasets.realistic_tumor(pair, mode="drug_pair", n_cells=300, seed=0)
    reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    scores = {}
    for method in ("decomposed_ridge", "signature"):
        scores[method] = pd.DataFrame(
            {
                drug: sctl.tl.predict_response(cells, reference=reference, drug=drug, method=method, copy=True).obs[
                    "sctl_response_proba"
                ]
                for drug in pair
            }
        )
    truth = cells.obsm["response"]
    ours, signature = (drug_specificity(truth, scores[m]) for m in ("decomposed_ridge", "signature"))
    assert ours > 0.8
    assert ours > signature + 0.05


def test_bad_input_is_refused():
    bulk = _lines(0)
    with pytest.raises(ValueError, match=r"not in `adata\.obsm"):
        DecomposedRidge().fit(bulk, "ln_ic50", drugs=["nope"])
    with pytest.raises(ValueError, match="positive number"):
        DecomposedRidge(alpha=0)
    with pytest.raises(ValueError, match="`specific_weight` must be a positive number"):
        DecomposedRidge(specific_weight=-1)
    broken = bulk.copy()
    broken.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DecomposedRidge().fit(broken, "ln_ic50")
    model = DecomposedRidge().fit(bulk, "ln_ic50", drugs=["drug0"])
    with pytest.raises(ValueError, match="lacks 1 of the 80 genes"):
        model.predict(bulk[:, 1:].copy())
