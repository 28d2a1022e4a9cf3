import warnings

import numpy as np
import pytest

from sctl.metrics import mae, pearson, regression_report, rmse, spearman


def test_errors_by_hand():
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(np.sqrt((1 + 0 + 4) / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def test_pearson_by_hand():
    # centred x = (-1.5, -0.5, 0.5, 1.5), y = (-0.5, -1.5, 1.5, 0.5): 3 / sqrt(5 * 5)
    assert pearson([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_spearman_by_hand():
    # ranks of y are (1, 3, 2, 4): Pearson of ranks = 4 / 5
    assert spearman([1, 2, 3, 4], [10, 20, 15, 100]) == pytest.approx(0.8)
    # ties get their average rank: (1.5, 1.5, 3, 4) against (1, 2, 3, 4)
    ranks = np.array([1.5, 1.5, 3, 4])
    expected = np.corrcoef(ranks, [1, 2, 3, 4])[0, 1]
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(expected)


def test_constant_input_gives_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))
        assert np.isnan(spearman([1, 2, 3], [5, 5, 5]))
        assert np.isnan(pearson([1.0], [2.0]))


def test_regression_report_all_and_per_group():
    y_true = [1, 2, 3, 5, 4, 6, 7, 7]
    y_pred = [1, 2, 4, 4, 5, 6, 6, 8]
    groups = ["a", "a", "a", "b", "b", "b", "c", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = regression_report(y_true, y_pred, groups=groups)
    assert list(report.index) == ["all", "a", "b", "c", "group_mean"]
    assert list(report.columns) == ["n", "rmse", "mae", "pearson", "spearman"]
    assert report.loc["all", "n"] == 8
    assert report.loc["a", "n"] == 3
    assert report.loc["a", "rmse"] == pytest.approx(np.sqrt(1 / 3))
    # group b: centred (0, -1, 1) against (-1, 0, 1) -> 1 / 2
    assert report.loc["b", "pearson"] == pytest.approx(0.5)
    # group c has a constant truth: NaN correlation, skipped by the group mean
    assert np.isnan(report.loc["c", "pearson"])
    assert report.loc["group_mean", "pearson"] == pytest.approx((pearson([1, 2, 3], [1, 2, 4]) + 0.5) / 2)
    assert report.loc["group_mean", "rmse"] == pytest.approx(report.loc[["a", "b", "c"], "rmse"].mean())
    assert report.loc["group_mean", "n"] == 3


def test_regression_report_keeps_groups_in_order_of_appearance():
    report = regression_report([1, 2, 3, 4], [1, 2, 4, 3], groups=["z", "z", "a", "a"])
    assert list(report.index) == ["all", "z", "a", "group_mean"]


def test_regression_report_without_groups():
    report = regression_report([1, 2, 3], [1, 2, 4])
    assert list(report.index) == ["all"]
    assert report.loc["all", "mae"] == pytest.approx(1 / 3)


def test_regression_errors():
    with pytest.raises(ValueError, match="has 3 values but"):
        rmse([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        pearson([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        rmse([], [])
    with pytest.raises(ValueError, match="reserved"):
        regression_report([1, 2], [1, 2], groups=["all", "x"])
    with pytest.raises(ValueError, match="`groups` has 1 values"):
        regression_report([1, 2], [1, 2], groups=["x"])


def test_constant_predictions_that_round_badly_give_nan():
    # 0.1 repeated does not centre to exact zeros in floating point; the correlation must still be NaN
    truth = np.arange(7, dtype=float)
    assert np.isnan(pearson(truth, np.full(7, 0.1)))
    assert np.isnan(spearman(truth, np.full(7, 1 / 3)))
    report = regression_report(truth, np.full(7, 0.1), groups=["a"] * 7)
    assert np.isnan(report.loc["a", "pearson"])
