import warnings

import numpy as np
import pytest

from sctl.metrics import mae_by_sign, mean_rowwise_rmse, pearson_per_row, perturbation_report, sign_accuracy


def test_sign_accuracy_by_hand():
    # signs: true (+, -, 0, +) against pred (+, +, 0, -): entries 0 and 2 match
    assert sign_accuracy([[1.0, -1.0, 0.0, 2.0]], [[0.5, 1.0, 0.0, -0.1]]) == 0.5
    assert sign_accuracy([[1.0, -2.0], [0.5, 3.0]], [[0.2, 1.0], [0.1, 2.0]]) == 0.75


def test_sign_accuracy_atol_counts_small_changes_as_none():
    true, pred = [[1.0, -1.0, 0.0, 2.0]], [[0.5, 1.0, 0.1, 2.0]]
    assert sign_accuracy(true, pred) == 0.5  # 0.1 is "up" against a true 0
    assert sign_accuracy(true, pred, atol=0.2) == 0.75  # 0.1 is "no change" within 0.2


def test_mae_by_sign_by_hand():
    result = mae_by_sign([[1.0, -2.0], [0.5, 3.0]], [[0.2, 1.0], [0.1, 2.0]])
    assert result["correct"] == pytest.approx((0.8 + 0.4 + 1.0) / 3)
    assert result["wrong"] == pytest.approx(3.0)
    everything_right = mae_by_sign([[1.0, -1.0]], [[2.0, -3.0]])
    assert everything_right["correct"] == pytest.approx(1.5)
    assert np.isnan(everything_right["wrong"])


def test_mean_rowwise_rmse_differs_from_pooled_rmse():
    true, pred = np.zeros((2, 2)), np.array([[3.0, 4.0], [1.0, 1.0]])
    # rows: sqrt(25 / 2) and 1
    assert mean_rowwise_rmse(true, pred) == pytest.approx((np.sqrt(12.5) + 1) / 2)
    assert mean_rowwise_rmse(true, pred) != pytest.approx(np.sqrt(np.mean((true - pred) ** 2)))


def test_pearson_per_row_by_hand():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = pearson_per_row([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], [[2, 4, 6], [0, 1, 2], [3, 2, 1]])
    assert result[0] == pytest.approx(1.0)
    assert np.isnan(result[1])
    assert result[2] == pytest.approx(-1.0)


def test_perturbation_report_by_hand():
    true, pred = np.array([[2.0, 0.0, 1.0]]), np.array([[1.0, 1.0, 2.0]])
    report = perturbation_report(true, pred, control_mean=[1.0, 0.0, 1.0])
    assert report["sign_accuracy"] == pytest.approx(2 / 3)  # 0 against + is wrong
    assert report["mae"] == pytest.approx(1.0)
    assert report["mae_correct_sign"] == pytest.approx(1.0)
    assert report["mae_wrong_sign"] == pytest.approx(1.0)
    assert report["mean_rowwise_rmse"] == pytest.approx(1.0)
    # centred true (1, -1, 0) against centred pred (-1/3, -1/3, 2/3): dot product 0
    assert report["mean_pearson"] == pytest.approx(0.0, abs=1e-12)
    # deviations from the control: true (1, 0, 0), pred (0, 1, 1) -> perfectly anti-correlated
    assert report["pearson_delta"] == pytest.approx(-1.0)
    assert "pearson_delta" not in perturbation_report(true, pred)


def test_mean_shift_predictor_has_no_delta_correlation():
    rng = np.random.default_rng(0)
    true = rng.normal(loc=1.0, size=(5, 20))
    shift = true.mean(axis=0)
    report = perturbation_report(true, np.tile(shift, (5, 1)), control_mean=shift)
    assert np.isnan(report["pearson_delta"])
    assert report["mean_pearson"] > 0.0  # while the plain correlation rewards the shared shift


def test_inputs_are_not_modified():
    true, pred = np.array([[1.0, -1.0]]), np.array([[0.5, 0.5]])
    perturbation_report(true, pred, control_mean=np.array([0.1, 0.1]))
    np.testing.assert_array_equal(true, [[1.0, -1.0]])
    np.testing.assert_array_equal(pred, [[0.5, 0.5]])


def test_perturbation_errors():
    with pytest.raises(ValueError, match="shape"):
        sign_accuracy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        mean_rowwise_rmse([[1.0, np.nan]], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="one value per gene"):
        perturbation_report(np.zeros((2, 3)), np.zeros((2, 3)), control_mean=[1.0, 2.0])
    with pytest.raises(ValueError, match="atol"):
        sign_accuracy([[1.0]], [[1.0]], atol=-1)
