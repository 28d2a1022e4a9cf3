import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import sctl

from ._plot_inputs import predicted_response


@pytest.fixture
def predicted():
    return predicted_response()


def test_response_saves_one_panel_per_colour(predicted, tmp_path):
    path = tmp_path / "response.png"
    fig = sctl.pl.response(predicted, basis="umap", extra=["0"], save=path)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["sctl_response_proba", "sctl_response", "0"]
    assert path.stat().st_size > 5_000
    plt.close(fig)


def test_response_explains_what_is_missing(predicted):
    with pytest.raises(KeyError, match="predict_response"):
        sctl.pl.response(predicted, key="sctl_other", show=False)
    with pytest.raises(KeyError, match=r"sc\.tl\.tsne"):
        sctl.pl.response(predicted, basis="tsne", show=False)


def test_response_greys_out_cells_outside_the_domain(predicted):
    predicted.obs["sctl_in_domain"] = np.arange(predicted.n_obs) >= 10
    fig = sctl.pl.response(predicted, basis="umap", show=False)
    greyed = [c for c in fig.axes[0].collections if c.get_label() == "outside the reference's domain"]
    assert len(greyed) == 1
    assert greyed[0].get_offsets().shape == (10, 2)
    plt.close(fig)
    fig = sctl.pl.response(predicted, basis="umap", show_domain=False, show=False)
    assert not [c for c in fig.axes[0].collections if c.get_label() == "outside the reference's domain"]
    plt.close(fig)
    assert sctl.pl.response(predicted, basis="umap", show=True) is None
    plt.close("all")
