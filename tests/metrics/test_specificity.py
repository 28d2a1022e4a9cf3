import numpy as np
import pandas as pd
import pytest

from sctl.metrics import drug_specificity

TRUTH = pd.DataFrame({"A": [1, 1, 0, 0], "B": [0, 0, 1, 1]}, index=["c0", "c1", "c2", "c3"])


def test_drug_specificity_by_hand():
    perfect = pd.DataFrame({"A": [0.9, 0.8, 0.2, 0.1], "B": [0.1, 0.3, 0.7, 0.9]}, index=TRUTH.index)
    assert drug_specificity(TRUTH, perfect) == 1.0
    # A: sensitive {0.9, 0.2} over resistant {0.8, 0.1} in 3 of 4 pairs; B perfect: (0.75 + 1) / 2
    partial = perfect.assign(A=[0.9, 0.2, 0.8, 0.1])
    assert drug_specificity(TRUTH, partial) == pytest.approx(0.875)
    # the same ranking for both drugs: AUROC a on one, 1 - a on the other
    blind = pd.DataFrame({"A": [0.9, 0.2, 0.8, 0.1], "B": [0.9, 0.2, 0.8, 0.1]}, index=TRUTH.index)
    assert drug_specificity(TRUTH, blind) == pytest.approx(0.5)


def test_drug_specificity_aligns_labels_and_skips_unlabelled_cells():
    labels = TRUTH.replace({1: "sensitive", 0: "resistant"}).astype("category")
    shuffled = pd.DataFrame({"B": [0.9, 0.7, 0.3, 0.1], "A": [0.1, 0.2, 0.8, 0.9]}, index=["c3", "c2", "c1", "c0"])
    assert drug_specificity(labels, shuffled) == 1.0
    # an unlabelled cell (NaN) leaves its drug's AUROC: A keeps c0, c2, c3 -> 2 of 2 pairs right with c1 wrong gone
    partial = TRUTH.astype(float).copy()
    partial.loc["c1", "A"] = np.nan
    scores = pd.DataFrame({"A": [0.9, 0.0, 0.2, 0.1], "B": [0.1, 0.3, 0.7, 0.9]}, index=TRUTH.index)
    assert drug_specificity(partial, scores) == 1.0
    assert drug_specificity(TRUTH, scores) == pytest.approx((0.5 + 1.0) / 2)


def test_drug_specificity_errors():
    with pytest.raises(ValueError, match="two or more drugs"):
        drug_specificity(TRUTH[["A"]], TRUTH[["A"]])
    with pytest.raises(ValueError, match=r"same cells \(index\) and drugs"):
        drug_specificity(TRUTH, TRUTH.rename(columns={"B": "C"}))
    with pytest.raises(TypeError, match="`scores` must be a DataFrame"):
        drug_specificity(TRUTH, TRUTH.to_numpy())
    with pytest.raises(ValueError, match=r"Drug 'B': AUROC needs both"):
        drug_specificity(TRUTH.assign(B=1), TRUTH)


def test_unscored_cells_are_left_out_like_unlabelled_ones():
    from sctl.metrics import auroc

    truth = pd.DataFrame({"a": [0, 1, 0, 1, 1, 0], "b": [1, 0, 1, 0, 0, 1]})
    scores = pd.DataFrame({"a": [0.1, 0.9, np.nan, 0.8, 0.7, 0.2], "b": [0.9, 0.1, 0.8, 0.2, np.nan, 0.8]})
    assert drug_specificity(truth, scores) == 1.0  # NaN scores (cells predict_response leaves unscored) skipped
    scores.loc[0, "a"] = 0.75  # a resistant cell now above one sensitive cell
    known = scores["a"].notna()
    expected_a = auroc(truth["a"][known], scores["a"][known])
    assert expected_a < 1.0
    assert drug_specificity(truth, scores) == pytest.approx((expected_a + 1.0) / 2)
