import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl

LINES = ["L1", "L2", "L3"]


def _bulk(response: pd.DataFrame) -> AnnData:
    adata = AnnData(np.zeros((len(response), 2), dtype=np.float32), obs=pd.DataFrame(index=response.index))
    adata.obsm["ln_ic50"] = response
    return adata


@pytest.fixture
def table():
    # per-drug z-scores: a -> [-1, 0, 1]; b -> [-1, 1, 0]; c (L2 untested) -> [-sqrt(0.5), NaN, sqrt(0.5)]
    return pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 30.0, 20.0], "c": [4.0, np.nan, 6.0]}, index=LINES)


def test_drug_specific_response_by_hand(table):
    bulk = _bulk(table)
    sctl.pp.drug_specific_response(bulk, min_drugs=2)
    r = np.sqrt(0.5)
    general = np.array([(-1 - 1 - r) / 3, (0 + 1) / 2, (1 + 0 + r) / 3])
    z = np.array([[-1, -1, -r], [0, 1, np.nan], [1, 0, r]])
    np.testing.assert_allclose(bulk.obsm["ln_ic50_specific"].to_numpy(), z - general[:, None])
    expected_general = np.where(np.isnan(z), np.nan, general[:, None])
    np.testing.assert_allclose(bulk.obsm["ln_ic50_general"].to_numpy(), expected_general)
    assert list(bulk.obsm["ln_ic50_specific"].columns) == ["a", "b", "c"]
    assert bulk.uns["ln_ic50_specific"]["params"] == {
        "key": "ln_ic50",
        "min_drugs": 2,
        "general_key_added": "ln_ic50_general",
        "n_lines_too_few_drugs": 0,
    }
    assert bulk.obsm["ln_ic50"].equals(table)  # the input table is untouched


def test_drug_specific_response_too_few_drugs_is_nan(table):
    out = sctl.pp.drug_specific_response(_bulk(table), min_drugs=3, key_added="spec", copy=True)
    assert out.obsm["spec"].loc["L2"].isna().all()  # tested with 2 of 3 drugs
    assert out.obsm["ln_ic50_general"].loc["L2"].isna().all()
    assert out.obsm["spec"].loc[["L1", "L3"]].notna().all().all()
    assert out.uns["spec"]["params"]["n_lines_too_few_drugs"] == 1


def test_drug_specific_response_errors(table):
    bulk = _bulk(table)
    with pytest.raises(ValueError, match="`min_drugs` must be an integer of at least 2"):
        sctl.pp.drug_specific_response(bulk, min_drugs=1)
    with pytest.raises(ValueError, match="holds 3 drugs, fewer than `min_drugs=10`"):
        sctl.pp.drug_specific_response(bulk)
    with pytest.raises(ValueError, match="cannot be z-scored"):
        sctl.pp.drug_specific_response(_bulk(table.assign(a=1.0)), min_drugs=2)
    with pytest.raises(KeyError, match="No response matrix"):
        sctl.pp.drug_specific_response(bulk, key="auc")


def test_specific_labels_do_not_carry_general_sensitivity():
    """Raw ln IC50 labels split lines by general sensitivity; specific labels barely do."""
    bulk = sctl.datasets.gdsc()
    sctl.pp.drug_specific_response(bulk)
    general = bulk.obsm["ln_ic50_general"]["Docetaxel"]
    gaps = {}
    for key in ("ln_ic50", "ln_ic50_specific"):
        sctl.pp.binarize_response(bulk, "Docetaxel", key=key)
        means = general.groupby(bulk.obs["sctl_label"], observed=True).mean()
        gaps[key] = means["resistant"] - means["sensitive"]
    assert gaps["ln_ic50"] > 0.5
    assert abs(gaps["ln_ic50_specific"]) < 0.5 * gaps["ln_ic50"]


def test_predict_response_learns_from_the_specific_table():
    bulk = sctl.datasets.gdsc()
    sctl.pp.drug_specific_response(bulk)
    cells = sctl.datasets.tumor(["Trametinib", "Olaparib"], n_cells=120, mode="drug_pair", general_shift=0.0, seed=0)
    reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    sctl.tl.predict_response(cells, reference=reference, drug="Trametinib", method="signature", key="ln_ic50_specific")
    params = cells.uns["sctl_response"]["params"]
    assert params["key"] == "ln_ic50_specific"
    tested = reference.obsm["ln_ic50_specific"]["Trametinib"].notna().sum()
    assert params["n_reference_sensitive"] == params["n_reference_resistant"] == int(0.3 * tested)
    truth = cells.obs["response_Trametinib"]
    assert sctl.metrics.auroc(truth, cells.obs["sctl_response_proba"]) > 0.8
