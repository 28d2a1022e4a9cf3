import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from anndata import AnnData

import sctl

from ._plot_inputs import ranked_drugs


@pytest.fixture(scope="module")
def ranked() -> AnnData:
    return ranked_drugs()


def test_drug_ranking_draws_top_drugs_best_first(ranked, tmp_path):
    path = tmp_path / "ranking.png"
    fig = sctl.pl.drug_ranking(ranked, n_top=5, save=path)
    assert path.exists()
    assert path.stat().st_size > 0
    bars_ax, heat_ax = fig.axes[0], fig.axes[1]
    ranking = ranked.uns["sctl_rank_drugs"]["ranking"]
    labels = [t.get_text().split()[0] for t in bars_ax.get_yticklabels()]
    heights = dict(zip(labels, bars_ax.get_yticks(), strict=True))
    assert sorted(heights, key=heights.get, reverse=True) == list(ranking.index[:5])  # best drug on top
    assert len(bars_ax.patches) == 5
    widths = sorted(p.get_width() for p in bars_ax.patches)
    np.testing.assert_allclose(widths, np.sort(ranking["delta_ri_mean"].to_numpy()[:5]))
    assert heat_ax.images[0].get_array().shape == (5, 8)
    assert heat_ax.get_xticklabels()[0].get_text() == "apoptosis"
    plt.close(fig)


def test_drug_ranking_bars_only_and_errors(ranked):
    fig = sctl.pl.drug_ranking(ranked, n_top=None, states=False, samples=False, show=False)
    assert len(fig.axes) == 1
    assert len(fig.axes[0].patches) == 8
    assert not fig.axes[0].collections or all(len(c.get_offsets()) == 0 for c in fig.axes[0].collections[1:])
    plt.close(fig)
    with pytest.raises(KeyError, match="rank_drugs"):
        sctl.pl.drug_ranking(AnnData(np.zeros((2, 2))), show=False)
    with pytest.raises(ValueError, match="n_top"):
        sctl.pl.drug_ranking(ranked, n_top=0, show=False)
