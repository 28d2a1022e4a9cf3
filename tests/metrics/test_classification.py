import numpy as np
import pandas as pd
import pytest

from sctl.metrics import accuracy, auroc, average_precision, classification_report, f1, precision, recall

# tp = samples 0 and 4, fn = sample 1, fp = sample 2, tn = samples 3 and 5 (threshold 0.5)
Y_TRUE = [1, 1, 0, 0, 1, 0]
Y_SCORE = [0.9, 0.4, 0.6, 0.2, 0.7, 0.1]


def test_threshold_metrics_match_hand_counts():
    assert accuracy(Y_TRUE, Y_SCORE) == pytest.approx(4 / 6)
    assert precision(Y_TRUE, Y_SCORE) == pytest.approx(2 / 3)
    assert recall(Y_TRUE, Y_SCORE) == pytest.approx(2 / 3)
    assert f1(Y_TRUE, Y_SCORE) == pytest.approx(2 / 3)


def test_threshold_moves_the_calls():
    # at 0.65 only samples 0 and 4 are called sensitive: tp 2, fp 0, fn 1, tn 3
    assert accuracy(Y_TRUE, Y_SCORE, threshold=0.65) == pytest.approx(5 / 6)
    assert precision(Y_TRUE, Y_SCORE, threshold=0.65) == 1.0
    assert recall(Y_TRUE, Y_SCORE, threshold=0.65) == pytest.approx(2 / 3)
    assert f1(Y_TRUE, Y_SCORE, threshold=0.65) == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))
    # a score equal to the threshold is called sensitive
    assert recall([1], [0.5]) == 1.0


def test_auroc_counts_concordant_pairs():
    # sensitive scores 0.9, 0.4, 0.7 against resistant 0.6, 0.2, 0.1: 3 + 2 + 3 of 9 pairs are concordant
    assert auroc(Y_TRUE, Y_SCORE) == pytest.approx(8 / 9)


def test_auroc_counts_ties_as_half():
    # pairs (0.5 vs 0.3) = 1, (0.5 vs 0.5) = 0.5, (0.9 vs both) = 2
    assert auroc([0, 0, 1, 1], [0.3, 0.5, 0.5, 0.9]) == pytest.approx(3.5 / 4)
    assert auroc([0, 1], [0.5, 0.5]) == 0.5


def test_average_precision_by_hand():
    # ranking 0.9 (S), 0.7 (S), 0.6 (R), 0.4 (S): precision at each sensitive sample 1, 1, 3/4
    assert average_precision(Y_TRUE, Y_SCORE) == pytest.approx((1 + 1 + 3 / 4) / 3)
    # tied scores enter together: threshold 0.5 gives P = 1/2 at R = 1/2, threshold 0.2 gives P = 2/3 at R = 1
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.2]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


@pytest.mark.parametrize(
    "labels",
    [
        ["sensitive", "sensitive", "resistant", "resistant", "sensitive", "resistant"],
        pd.Categorical(["sensitive", "sensitive", "resistant", "resistant", "sensitive", "resistant"]),
        pd.Series(["sensitive", "sensitive", "resistant", "resistant", "sensitive", "resistant"], dtype="category"),
        np.array(Y_TRUE, dtype=bool),
        np.array(Y_TRUE, dtype=float),
    ],
)
def test_label_forms_agree(labels):
    assert classification_report(labels, Y_SCORE) == classification_report(Y_TRUE, Y_SCORE)


def test_labels_as_predictions():
    assert accuracy(["sensitive", "resistant"], ["sensitive", "sensitive"]) == 0.5
    assert f1([True, False, True], [True, False, False]) == pytest.approx(2 / 3)


def test_classification_report_keys_and_values():
    report = classification_report(Y_TRUE, Y_SCORE)
    assert list(report) == ["accuracy", "precision", "recall", "f1", "auroc", "ap"]
    assert all(isinstance(v, float) for v in report.values())
    assert report["auroc"] == pytest.approx(8 / 9)


def test_no_positive_call_gives_zero_precision():
    assert precision([1, 0], [0.1, 0.2]) == 0.0
    assert f1([1, 0], [0.1, 0.2]) == 0.0


def test_inputs_are_not_modified():
    scores = np.array(Y_SCORE)
    labels = pd.Series(["sensitive", "resistant", "sensitive", "resistant", "sensitive", "resistant"])
    classification_report(labels, scores)
    np.testing.assert_array_equal(scores, Y_SCORE)
    assert labels.iloc[0] == "sensitive"


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="has 3 values but"):
        auroc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="has 2 values but"):
        accuracy([0, 1], [0.1, 0.2, 0.3])


def test_nan_scores_raise():
    with pytest.raises(ValueError, match="NaN"):
        auroc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="NaN"):
        accuracy([0, 1], [0.1, np.nan])


def test_one_class_raises_for_ranking_metrics():
    with pytest.raises(ValueError, match="found only 'sensitive'"):
        auroc(["sensitive", "sensitive"], [0.1, 0.9])
    with pytest.raises(ValueError, match="found only 'resistant'"):
        average_precision([0, 0, 0], [0.1, 0.9, 0.3])


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="must hold 'sensitive' / 'resistant'"):
        accuracy(["sensitive", "responder"], [0.1, 0.9])
    with pytest.raises(ValueError, match="missing labels"):
        auroc(pd.Categorical(["sensitive", None, "resistant"]), [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="must hold 0 / 1"):
        auroc([0, 2], [0.1, 0.9])
