import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from anndata import AnnData

import sctl

from ._plot_inputs import evaluated_response


@pytest.fixture(scope="module")
def evaluated():
    return evaluated_response()


@pytest.mark.parametrize("plot", [sctl.pl.roc, sctl.pl.pr])
def test_curves_from_stored_predictions(evaluated, plot, tmp_path):
    path = tmp_path / "curve.png"
    fig = plot(evaluated, save=path, show=False)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [label.split()[0] for label in labels] == ["logreg", "signature"]
    table = evaluated.uns["sctl_evaluate_response"]["table"]
    metric = "auroc" if plot is sctl.pl.roc else "ap"
    mean = table[(table["method"] == "logreg") & (table["metric"] == metric)]["mean"].iloc[0]
    assert f"{mean:.2f}" in labels[0]
    assert len(ax.get_lines()) == 3  # two methods + chance line
    assert path.stat().st_size > 5_000
    plt.close(fig)


def test_roc_from_obs_columns():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, size=100)
    adata = AnnData(np.zeros((100, 2), dtype=np.float32))
    adata.obs["truth"] = np.where(truth == 1, "sensitive", "resistant")
    adata.obs["perfect"] = truth + 0.0
    adata.obs["noise"] = rng.uniform(size=100)
    fig = sctl.pl.roc(adata, truth_key="truth", score_keys=["perfect", "noise"], show=False)
    perfect = fig.axes[0].get_lines()[0]
    assert np.allclose(np.interp(0.01, *perfect.get_data()), 1.0)  # TPR reaches 1 at FPR 0
    plt.close(fig)


def test_metrics_radar_draws_one_polygon_per_method(evaluated):
    fig = sctl.pl.metrics_radar(evaluated, show=False)
    ax = fig.axes[0]
    assert ax.name == "polar"
    assert len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["precision", "recall", "f1", "auroc", "ap", "accuracy"]
    plt.close(fig)


def test_plots_explain_what_is_missing(evaluated):
    with pytest.raises(KeyError, match="evaluate_response"):
        sctl.pl.roc(AnnData(np.zeros((3, 2), dtype=np.float32)), show=False)
    with pytest.raises(ValueError, match="'transfer'"):
        sctl.pl.pr(evaluated, setting="transfer", show=False)
    with pytest.raises(ValueError, match="not evaluated"):
        sctl.pl.roc(evaluated, methods=["rf"], show=False)
    with pytest.raises(ValueError, match="at least three"):
        sctl.pl.metrics_radar(evaluated, metrics=["auroc", "ap"], show=False)


def test_curves_leave_out_unscored_cells_with_a_warning():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, size=100)
    adata = AnnData(np.zeros((100, 2), dtype=np.float32))
    adata.obs["truth"] = np.where(truth == 1, "sensitive", "resistant")
    score = truth + 0.0
    score[:7] = np.nan  # cells predict_response could not score (too few detected genes)
    adata.obs["sctl_response_proba"] = score
    with pytest.warns(UserWarning, match="7 labelled cells have no score"):
        fig = sctl.pl.roc(adata, truth_key="truth", show=False)
    assert np.allclose(np.interp(0.01, *fig.axes[0].get_lines()[0].get_data()), 1.0)
    plt.close(fig)
