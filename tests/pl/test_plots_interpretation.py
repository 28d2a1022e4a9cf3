import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from anndata import AnnData
from matplotlib.figure import Figure

import sctl

from ._plot_inputs import called_cells, response_trend


@pytest.fixture(scope="module")
def cells() -> AnnData:
    return called_cells()


def _check_png(path) -> None:
    assert path.exists()
    assert path.stat().st_size > 5_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["heatmap", "violin"])
def test_states_plot(cells, tmp_path, kind):
    adata = cells.copy()
    sctl.tl.score_states(adata)
    path = tmp_path / f"states_{kind}.png"
    fig = sctl.pl.states(adata, groupby="sctl_response", kind=kind, save=path, show=False)
    assert isinstance(fig, Figure)
    _check_png(path)
    if kind == "heatmap":
        assert len(fig.axes) == 2  # heatmap and colour bar
        labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        assert labels[0] == "apoptosis"
        assert labels[-1] == "resistance index"
    else:
        assert sum(ax.get_visible() for ax in fig.axes) == 9  # 8 states + resistance index
    plt.close(fig)


def test_states_plot_errors(cells):
    with pytest.raises(KeyError, match="score_states"):
        sctl.pl.states(cells, show=False)
    adata = cells.copy()
    sctl.tl.score_states(adata)
    with pytest.raises(ValueError, match="kind"):
        sctl.pl.states(adata, kind="bar", show=False)
    with pytest.raises(KeyError, match="groupby"):
        sctl.pl.states(adata, groupby="cluster", show=False)


def test_gene_scores_plot(cells, tmp_path):
    adata = cells.copy()
    sctl.tl.response_gene_scores(adata, truth_key="response", n_permutations=100, n_genes=20)
    path = tmp_path / "gene_scores.png"
    fig = sctl.pl.gene_scores(adata, save=path, show=False)
    _check_png(path)
    assert len(fig.axes) == 6
    assert fig.axes[1].get_title().startswith("Pearson R = 1.000")
    plt.close(fig)
    adata = cells.copy()
    sctl.tl.response_gene_scores(adata, n_genes=20)
    fig = sctl.pl.gene_scores(adata, groupby="cell_line", show=False)
    assert len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(KeyError, match="response_gene_scores"):
        sctl.pl.gene_scores(cells, show=False)


def test_response_trajectory_plot(tmp_path):
    adata = response_trend()
    t = adata.obs["sctl_response_proba"].to_numpy()
    with pytest.raises(KeyError, match="response_pseudotime"):
        sctl.pl.response_trajectory(adata, show=False)
    sctl.tl.response_pseudotime(adata, root=(t > 0.9), genes=["g0"])
    with pytest.raises(KeyError, match="X_umap"):
        sctl.pl.response_trajectory(adata, show=False)
    path = tmp_path / "trajectory.png"
    fig = sctl.pl.response_trajectory(adata, basis="pca", genes=["g0"], save=path, show=False)
    _check_png(path)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 3
    assert "Spearman rho" in panels[1].get_title()
    plt.close(fig)
    fig = sctl.pl.response_trajectory(adata, basis="diffmap", show=False)
    plt.close(fig)
