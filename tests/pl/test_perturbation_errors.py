import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

import sctl

from ._plot_inputs import evaluated_perturbation

BASELINES = ["zero_change", "mean_shift", "per_drug_mean", "ridge"]


@pytest.fixture(scope="module")
def evaluated():
    return evaluated_perturbation()


def _points(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_draws_one_dot_per_model_and_group(evaluated, tmp_path):
    path = tmp_path / "errors.png"
    fig = sctl.pl.perturbation_errors(evaluated, "mean_rowwise_rmse", max_groups=10, save=path, show=False)
    assert path.stat().st_size > 0
    ax = fig.axes[0]
    points = _points(ax)
    assert len(points) == 5  # the model and the four baselines
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["drug_means", *BASELINES]
    assert all(np.isfinite(p.get_offsets()).all(axis=1).sum() == 10 for p in points)

    per_group = evaluated.uns["sctl_evaluate_perturbation"]["per_group"]
    rmse = per_group[(per_group["metric"] == "mean_rowwise_rmse") & (per_group["grouping"] == "drug")]
    means = rmse.groupby(["group", "model"])["value"].mean().unstack()
    hardest = means.mean(axis=1).sort_values(ascending=False).index[:10]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[::-1] == list(hardest)  # hardest on top
    top = points[0].get_offsets()  # drug_means: x = mean over the 3 folds
    assert top[np.argmax(top[:, 1]), 0] == pytest.approx(means.loc[hardest[0], "drug_means"])
    assert points[1].get_facecolors().size == 0 or points[1].get_facecolors()[0, 3] == 0  # baselines hollow
    assert "lower is better" in ax.get_xlabel()
    assert ax.get_title() == "mean_rowwise_rmse per drug, 10 hardest of 59"
    plt.close("all")


def test_correlations_skip_all_nan_models_and_accept_a_table(evaluated):
    per_group = evaluated.uns["sctl_evaluate_perturbation"]["per_group"]
    fig, ax = plt.subplots()
    out = sctl.pl.perturbation_errors(per_group, "pearson_delta", max_groups=None, ax=ax, show=False)
    assert out is fig
    names = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "mean_shift" not in names  # no deviation from the mean shift: NaN everywhere
    assert "drug_means" in names
    assert len(ax.get_yticklabels()) == 59
    assert "higher is better" in ax.get_xlabel()
    plt.close(fig)


def test_clear_errors(evaluated):
    with pytest.raises(ValueError, match="Unknown metric"):
        sctl.pl.perturbation_errors(evaluated, "auroc", show=False)
    with pytest.raises(ValueError, match="groupby='cell_line'"):
        sctl.pl.perturbation_errors(evaluated, groupby="cell_line", show=False)
    with pytest.raises(ValueError, match="model"):
        sctl.pl.perturbation_errors(evaluated, models=["GRIP"], show=False)
    with pytest.raises(KeyError, match="evaluate_perturbation"):
        sctl.pl.perturbation_errors(evaluated, key="nothing", show=False)
    two = evaluated.uns["sctl_evaluate_perturbation"]["per_group"].copy()
    two = pd.concat([two, two.assign(scheme="random")])
    with pytest.raises(ValueError, match="scheme="):
        sctl.pl.perturbation_errors(two, show=False)
    fig = sctl.pl.perturbation_errors(two, scheme="random", show=False)
    assert len(_points(fig.axes[0])) == 5  # the model and the four baselines of that scheme
    plt.close("all")
