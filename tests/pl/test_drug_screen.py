import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from matplotlib.colors import to_rgba

import sctl
from sctl.pl._drug_screen import MAX_DOT_AREA, UNTRUSTED_COLOR

from ._plot_inputs import screened_cells


@pytest.fixture(scope="module")
def screened() -> AnnData:
    return screened_cells()


def _ticks(labels) -> list[str]:
    return [label.get_text() for label in labels]


def test_drug_screen_draws_groups_by_drugs(screened, tmp_path):
    path = tmp_path / "screen.png"
    before = set(screened.uns)
    fig = sctl.pl.drug_screen(screened, save=path)
    assert path.stat().st_size > 0
    ax = fig.axes[0]
    assert _ticks(ax.get_xticklabels()) == ["A", "C", "B"]  # group A's three best drugs, in its order
    assert _ticks(ax.get_yticklabels()) == ["A  (n=147)", "B  (n=147)", "rare  (n=6)"]
    filled, hollow = ax.collections[0], ax.collections[1]
    table = screened.uns["sctl_drug_screen"]["groups"].set_index(["group", "drug"])
    expected = [table.loc[(g, d)] for g in ("A", "B") for d in ("A", "C", "B")]
    np.testing.assert_allclose(filled.get_array(), [row["mean_probability"] for row in expected])
    np.testing.assert_allclose(filled.get_sizes(), [MAX_DOT_AREA * row["fraction_sensitive"] for row in expected])
    np.testing.assert_array_equal(filled.get_offsets(), [[x, y] for y in (0, 1) for x in (0, 1, 2)])
    # the untrusted group: hollow grey dots, grey label
    assert len(hollow.get_offsets()) == 3
    assert (hollow.get_offsets()[:, 1] == 2).all()
    assert hollow.get_facecolors().size == 0 or (hollow.get_facecolors()[:, 3] == 0).all()
    np.testing.assert_allclose(hollow.get_edgecolors()[0], to_rgba(UNTRUSTED_COLOR))
    colours = [label.get_color() for label in ax.get_yticklabels()]
    assert colours == ["black", "black", UNTRUSTED_COLOR]
    assert any(t.get_text() == "not trusted" for t in fig.axes[-1].get_legend().get_texts())
    assert fig.axes[1].get_ylabel() == "mean probability"  # the colour bar
    assert set(screened.uns) == before  # the plot writes nothing
    plt.close(fig)


def test_drug_screen_top_drugs_choice_and_trusted_only(screened):
    fig = sctl.pl.drug_screen(screened, n_top=1, trusted_only=True, show=False)
    ax = fig.axes[0]
    assert _ticks(ax.get_xticklabels()) == ["A", "B"]  # the union of each group's best drug
    assert _ticks(ax.get_yticklabels()) == ["A  (n=147)", "B  (n=147)"]
    assert len(ax.collections[1].get_offsets()) == 0
    assert all(t.get_text() != "not trusted" for t in fig.axes[-1].get_legend().get_texts())
    plt.close(fig)
    fig = sctl.pl.drug_screen(screened, drugs=["C", "A"], show=False)
    assert _ticks(fig.axes[0].get_xticklabels()) == ["C", "A"]
    plt.close(fig)


def test_drug_screen_into_given_axes_and_regrouped(screened):
    """With ``ax`` the figure of ``ax`` is returned; another ``groupby`` ranks the stored probabilities anew."""
    fig, ax = plt.subplots()
    cells = screened.copy()
    cells.obs["half"] = pd.Categorical(np.where(np.arange(cells.n_obs) < 150, "first", "second"))
    assert sctl.pl.drug_screen(cells, groupby="half", ax=ax, show=False) is fig
    assert _ticks(ax.get_yticklabels()) == ["first  (n=150)", "second  (n=150)"]
    assert ax.get_ylabel() == "half"
    screen = cells.obsm["sctl_drug_screen"]
    first = screen.iloc[:150].mean()
    drawn = dict(zip(_ticks(ax.get_xticklabels()), ax.collections[0].get_array()[:3], strict=True))
    assert drawn == pytest.approx(first[list(drawn)].to_dict())
    assert cells.uns["sctl_drug_screen"]["params"]["groupby"] == "cluster"  # the stored screen is untouched
    plt.close(fig)


def test_drug_screen_errors(screened):
    with pytest.raises(KeyError, match="screen_drugs"):
        sctl.pl.drug_screen(AnnData(np.zeros((3, 2))), show=False)
    ungrouped = screened.copy()
    del ungrouped.uns["sctl_drug_screen"]["groups"]
    with pytest.raises(
        KeyError, match=r"without `groupby`.*sctl\.tl\.screen_drugs\(adata, reference, groupby=\.\.\.\)"
    ):
        sctl.pl.drug_screen(ungrouped, show=False)
    fig = sctl.pl.drug_screen(ungrouped, groupby="cluster", show=False)  # grouped at plot time instead
    assert len(fig.axes[0].get_yticklabels()) == 3
    plt.close(fig)
    with pytest.raises(KeyError, match="Did you mean 'cluster'"):
        sctl.pl.drug_screen(screened, groupby="clusters", show=False)
    with pytest.raises(ValueError, match=r"'AA'.*Did you mean 'A'"):
        sctl.pl.drug_screen(screened, drugs=["AA"], show=False)
    with pytest.raises(ValueError, match="n_top"):
        sctl.pl.drug_screen(screened, n_top=0, show=False)
    untrusted = screened.copy()
    untrusted.uns["sctl_drug_screen"]["groups"] = untrusted.uns["sctl_drug_screen"]["groups"].assign(trusted=False)
    with pytest.raises(ValueError, match=r"No group .* is trusted"):
        sctl.pl.drug_screen(untrusted, trusted_only=True, show=False)
