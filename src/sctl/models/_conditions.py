"""Shared plumbing of the perturbation models: condition codes, clear errors, placeholder data and seeded training.

Their pickle-free save / load is :mod:`sctl.models._io`, shared with every sctl model.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scvi
from anndata import AnnData
from scvi.dataloaders import DataSplitter
from scvi.model.base import UnsupervisedTrainingMixin

from sctl._validate import check_obs_key, preview


def encode(
    values: Sequence | np.ndarray | pd.Series, categories: Sequence[str], what: str, hint: str = ""
) -> np.ndarray:
    """Integer codes of ``values`` in the training ``categories``; a clear error names unknown values."""
    values = pd.Series(np.asarray(values).astype(str))
    lookup = pd.Series(np.arange(len(categories)), index=pd.Index([str(c) for c in categories]))
    unknown = values[~values.isin(lookup.index)].unique()
    if len(unknown):
        raise KeyError(
            f"Unknown {what} {preview(unknown, 5)}: the model was trained on {len(categories)} {what}s "
            f"({preview(sorted(map(str, categories)), 200)}).{hint}"
        )
    return lookup.loc[values].to_numpy(dtype=np.int64)


def condition_values(adata: AnnData, key: str, override: Any, what: str) -> np.ndarray:
    """The condition of every observation: ``override`` (scalar or one per observation) or ``adata.obs[key]``."""
    if override is None:
        return check_obs_key(
            adata, key, hint=f"Or pass `{what}=` to predict every profile under one {what}."
        ).to_numpy()
    if np.ndim(override) == 0:
        return np.repeat(np.asarray([override], dtype=object), adata.n_obs)
    values = np.asarray(override, dtype=object)
    if values.shape != (adata.n_obs,):
        raise ValueError(f"`{what}=` must be one value or one per observation ({adata.n_obs}), got {values.shape}.")
    return values


def dose_values(adata: AnnData, key: str | None, override: Any) -> np.ndarray:
    """Numeric doses from ``override`` or ``adata.obs[key]``; an error when they are missing or NaN."""
    if override is None:
        if key is None or key not in adata.obs.columns:
            raise KeyError(
                "The model was trained with doses, so it needs one per profile: pass `dose=` (one value or one per "
                f"observation) or add the column `adata.obs[{key!r}]`."
            )
        values = pd.to_numeric(adata.obs[key], errors="coerce").to_numpy(dtype=np.float64)
    else:
        values = np.broadcast_to(np.asarray(override, dtype=np.float64), (adata.n_obs,)).copy()
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"Doses must be finite and non-negative; got {int((~np.isfinite(values)).sum())} missing.")
    return values


def aligned_matrix(adata: AnnData, layer: str | None, var_names: Sequence[str], what: str) -> np.ndarray:
    """Dense float32 values of ``layer`` in the gene order the model was trained on."""
    from sctl._validate import check_var_names, get_matrix, to_dense

    check_var_names(adata, var_names, what)
    matrix = get_matrix(adata, layer)
    order = adata.var_names.get_indexer(pd.Index(var_names))
    return to_dense(matrix, np.float32)[:, order]


#: rows of each category in :func:`placeholder_adata` (scvi-tools warns below 3)
PLACEHOLDER_PER_CATEGORY = 3


def placeholder_adata(
    var_names: Sequence[str], categorical: dict[str, Sequence[str]], numeric: Sequence[str], layers: Sequence[str]
) -> AnnData:
    """A small AnnData with the saved genes and categories, to rebuild a model without its training data.

    Every category gets at least :data:`PLACEHOLDER_PER_CATEGORY` rows: scvi-tools' ``setup_anndata`` warns that a
    category with fewer than 3 cells "may not train properly", which means nothing for a model being loaded.
    """
    n_obs = PLACEHOLDER_PER_CATEGORY * max([len(c) for c in categorical.values()] + [1])
    obs = pd.DataFrame(index=[f"placeholder{i}" for i in range(n_obs)])
    for key, cats in categorical.items():
        codes = np.arange(n_obs) % len(cats)
        obs[key] = pd.Categorical.from_codes(codes, categories=list(cats))
    for key in numeric:
        obs[key] = np.linspace(0.0, 1.0, n_obs)
    X = np.zeros((n_obs, len(var_names)), dtype=np.float32)
    adata = AnnData(X, obs=obs, var=pd.DataFrame(index=pd.Index(list(var_names), dtype=str)))
    for layer in layers:
        adata.layers[layer] = X.copy()
    return adata


class TrainingRowsSplitter(DataSplitter):
    """scvi-tools' train / validation split that hands the training rows to ``on_split`` once they are drawn.

    A model that fits a scaling of its data (e.g. GRIP's gene z-scores) passes its fitting method, so the scaling
    sees the training rows only, never the validation rows.
    """

    def __init__(self, *args, on_split: Callable[[np.ndarray], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_split = on_split

    def setup(self, stage: str | None = None) -> None:
        """Split the rows, then call ``on_split`` with the training rows."""
        super().setup(stage)
        if self.on_split is not None:
            self.on_split(np.asarray(self.train_idx))


def train_seeded(
    model: Any,
    plan_kwargs: dict[str, Any],
    *,
    max_epochs: int,
    batch_size: int,
    train_size: float,
    seed: int,
    accelerator: str,
    trainer_kwargs: dict[str, Any],
    early_stopping: bool = False,
    patience: int = 10,
    monitor: str = "validation_loss",
    datasplitter_kwargs: dict[str, Any] | None = None,
) -> None:
    """Run scvi-tools' training of ``model`` reproducibly, then leave its module in evaluation mode.

    ``scvi.settings.seed`` seeds torch, numpy and random, as scvi-tools recommends: seeding torch alone did not give
    the same numbers twice. The progress bar is on and the model summary off unless ``trainer_kwargs`` say
    otherwise. One device unless ``trainer_kwargs`` names ``devices`` (and, for several, a ``strategy`` such as
    ``"ddp"``). ``early_stopping`` watches the logged validation metric ``monitor`` and needs ``train_size < 1``.
    """
    if early_stopping and train_size >= 1:
        raise ValueError(
            f"`early_stopping=True` watches `{monitor}` on held-out rows, and `train_size={train_size}` holds none "
            "out: pass `train_size` below 1 (e.g. 0.9)."
        )
    if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
        raise ValueError(f"`patience` must be a whole number of epochs, at least 1, got {patience!r}.")
    scvi.settings.seed = seed
    trainer_kwargs = {
        "enable_model_summary": False,
        "devices": 1,
        "early_stopping": early_stopping,
        "early_stopping_monitor": monitor,
        "early_stopping_patience": patience,
        **trainer_kwargs,
    }
    UnsupervisedTrainingMixin.train(
        model,
        max_epochs=max_epochs,
        accelerator=accelerator,
        train_size=train_size,
        batch_size=batch_size,
        plan_kwargs=plan_kwargs,
        datasplitter_kwargs=datasplitter_kwargs,
        **trainer_kwargs,
    )
    model.module.eval()
