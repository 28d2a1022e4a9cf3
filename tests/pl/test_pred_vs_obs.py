import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import sctl

from ._plot_inputs import predicted_perturbation


def test_pred_vs_obs_draws_and_saves(tmp_path):
    treated = predicted_perturbation()
    fig = sctl.pl.pred_vs_obs(treated, show=False, max_points=500)
    assert fig.axes[0].get_title().startswith("r = ")
    plt.close(fig)
    path = tmp_path / "pred_vs_obs.png"
    sctl.pl.pred_vs_obs(treated, obs_mask=np.arange(treated.n_obs) < 10, save=path, show=False)
    assert path.stat().st_size > 0
    treated.layers["sctl_predicted_delta"][:] = np.nan
    with pytest.raises(ValueError, match="Fewer than two"):
        sctl.pl.pred_vs_obs(treated, show=False)
    plt.close("all")


def test_predicted_layer_is_now_key(tmp_path):
    plate = sctl.datasets.lincs()[:40].copy()
    plate.layers["observed"] = np.random.default_rng(0).normal(size=plate.shape)
    plate.layers["mine"] = plate.layers["observed"] + 0.1
    fig = sctl.pl.pred_vs_obs(plate, key="mine", observed_layer="observed", show=False)
    assert fig.axes[0].get_ylabel() == "predicted (mine)"
    with pytest.warns(FutureWarning, match=r"`predicted_layer=` of sctl\.pl\.pred_vs_obs\(\) is renamed `key=`"):
        old = sctl.pl.pred_vs_obs(plate, predicted_layer="mine", observed_layer="observed", show=False)
    assert old.axes[0].get_ylabel() == "predicted (mine)"
    with pytest.raises(TypeError, match="pass `key=` only"):
        sctl.pl.pred_vs_obs(plate, key="mine", predicted_layer="mine", show=False)
    plt.close("all")
