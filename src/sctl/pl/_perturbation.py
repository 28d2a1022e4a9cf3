"""Plot predicted against observed drug-induced changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sctl._deprecation import renamed_arguments
from sctl._docs import doc_params
from sctl._validate import check_anndata, get_matrix, to_dense
from sctl.pl._utils import finish
from sctl.tl._perturbation import PREDICTED_DELTA_KEY


@renamed_arguments(predicted_layer="key")
@doc_params()
def pred_vs_obs(
    adata: AnnData,
    *,
    key: str = PREDICTED_DELTA_KEY,
    observed_layer: str = "sctl_delta",
    obs_mask: np.ndarray | None = None,
    max_points: int = 20000,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **kwargs: Any,
) -> Figure | None:
    """Scatter predicted against observed per-gene changes, with the identity line and Pearson's r.

    Reads the observed changes of :func:`sctl.pp.log_fold_change` and the predictions of
    :func:`sctl.tl.predict_perturbation`. Points are (profile, gene) entries; entries that a model does not
    predict (NaN) are left out. The title also gives the sign accuracy :cite:p:`ali2024deep`.

    Parameters
    ----------
    adata
        Profiles x genes with both layers.
    key
        Layer with the predicted changes: the ``delta_key_added`` of :func:`sctl.tl.predict_perturbation`.
    observed_layer
        Layer with the observed changes.
    obs_mask
        Boolean mask of the profiles to draw (e.g. the held-out ones); all by default.
    max_points
        Draw at most this many entries, a fixed random subset (the statistics use all).
    ax
        Axes to draw on; a new figure otherwise.
    {show_save}
    **kwargs
        Passed on to :meth:`matplotlib.axes.Axes.scatter`.

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.predict_perturbation(plate, model)  # doctest: +SKIP
    >>> sctl.pl.pred_vs_obs(plate, obs_mask=~plate.obs["is_control"].to_numpy(), show=False)  # doctest: +SKIP
    """
    check_anndata(adata)
    observed = to_dense(get_matrix(adata, observed_layer), np.float64)
    predicted = to_dense(get_matrix(adata, key), np.float64)
    if obs_mask is not None:
        observed, predicted = observed[np.asarray(obs_mask, dtype=bool)], predicted[np.asarray(obs_mask, dtype=bool)]
    keep = np.isfinite(observed) & np.isfinite(predicted)
    x, y = observed[keep], predicted[keep]
    if x.size < 2:
        raise ValueError("Fewer than two (profile, gene) entries have both an observed and a predicted change.")
    r = float(np.corrcoef(x, y)[0, 1])
    sign = float((np.sign(x) == np.sign(y)).mean())
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.5, 4.5))
    draw = np.random.default_rng(0).permutation(x.size)[:max_points]
    options = {"s": 3, "alpha": 0.3, "linewidths": 0, "rasterized": True, **kwargs}
    ax.scatter(x[draw], y[draw], **options)
    low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    ax.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--")
    ax.set_xlabel(f"observed ({observed_layer})")
    ax.set_ylabel(f"predicted ({key})")
    ax.set_title(f"r = {r:.2f}, sign accuracy = {sign:.2f}, n = {x.size:,}")
    return finish(fig, show, save)
