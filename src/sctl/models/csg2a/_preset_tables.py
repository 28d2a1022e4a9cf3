"""Values of CSG²A's settings under each preset (:mod:`sctl.models._presets`), one table per model and stage.

``docs/methods/csg2a.md`` gives the source of every ``"paper"`` value: the paper :cite:p:`bang2025csg2a` (section),
the authors' code (github.com/eugenebang/CSG2A) where the paper is silent, or sctl where both are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sctl.models._presets import resolve_preset

#: how an unseen drug's ln IC50 offset is estimated (:func:`sctl.models.csg2a._drugs.drug_offsets`)
OFFSETS = ("neighbours", "mean", "none")
LR_SCHEDULES = ("constant", "cosine")

#: :class:`~sctl.models.CSG2A` constructor
INIT_PRESETS = {
    "sctl": {
        "attention": "auto",
        "ppi_weights": "binary",
        "n_hidden": 16,
        "n_condition_hidden": 128,
        "dropout": 0.1,
        "bias": False,
        "residual": True,
    },
    "paper": {
        "attention": "full",  # A.1: every gene pair
        "ppi_weights": "binary",  # A.1 "adjacency matrix"; authors' code: 0/1 with self-loops
        "n_hidden": 64,  # authors' code (gene_hdim)
        "n_condition_hidden": 0,  # authors' code: one linear layer from the drug and dose / time to the genes
        "dropout": 0.1,  # authors' code
        "bias": False,  # A.2
        "residual": False,  # A.1: the network predicts the perturbed profile
    },
}
#: :meth:`sctl.models.CSG2A.train` (pretraining)
TRAIN_PRESETS = {
    "sctl": {
        "max_epochs": 200,
        "batch_size": 32,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "train_size": 1.0,
        "early_stopping": False,
        "patience": 10,
    },
    "paper": {  # authors' code: Adam, until 20 epochs without a better validation loss (10 % validates)
        "max_epochs": 1000,  # sctl: a cap on the authors' open-ended loop
        "batch_size": 128,
        "lr": 1e-4,
        "weight_decay": 0.0,
        "train_size": 0.9,
        "early_stopping": True,
        "patience": 20,
    },
}
#: :class:`~sctl.models.CSG2AIC50` constructor: the head and the prediction recipe
IC50_INIT_PRESETS = {
    "sctl": {
        "n_projection": 64,
        "n_head_hidden": 32,
        "scaling": "gene",
        "offset": "neighbours",
        "clip_features": True,
    },
    "paper": {
        "n_projection": 512,  # authors' code
        "n_head_hidden": [512, 64],  # authors' code
        "scaling": "scalar",  # 3.2 / A.2: two latent variables, mean and standard deviation
        "offset": "none",  # 3.2: the head regresses ln IC50
        "clip_features": False,
    },
}
#: :meth:`sctl.models.CSG2AIC50.train` (fine-tuning)
IC50_TRAIN_PRESETS = {
    "sctl": {
        "max_epochs": 30,
        "batch_size": 64,
        "lr": 1e-3,
        "lr_schedule": "constant",
        "lr_final": 1e-5,
        "lr_epochs": 20,
        "weight_decay": 0.0,
        "freeze": True,
        "train_size": 1.0,
        "early_stopping": False,
        "patience": 10,
    },
    "paper": {
        "max_epochs": 1000,  # sctl: a cap on the authors' open-ended loop
        "batch_size": 128,  # authors' code
        "lr": 1e-4,  # authors' code
        "lr_schedule": "cosine",  # authors' code: cosine from 1e-4 to 1e-5 over 20 epochs, then constant
        "lr_final": 1e-5,
        "lr_epochs": 20,
        "weight_decay": 1e-5,  # authors' code
        "freeze": True,  # 3.2: all pretrained parameters frozen
        "train_size": 0.9,  # authors' code: 10 % validates, early stopping after 20 epochs
        "early_stopping": True,
        "patience": 20,
    },
}


def network_params(preset: str, has_ppi: bool, **given: Any) -> dict[str, Any]:
    """The settings of a :class:`~sctl.models.CSG2A`: those left at ``None`` from the preset, checked."""
    values = resolve_preset(preset, INIT_PRESETS, **{k: given.pop(k) for k in INIT_PRESETS["sctl"]})
    attention = values["attention"]
    if attention == "auto":
        attention = "ppi" if has_ppi else "full"
    if attention == "ppi" and not has_ppi:
        raise ValueError(
            "`attention='ppi'` restricts attention to the PPI edges, so it needs `ppi=` (e.g. "
            "`sctl.datasets.ppi()`); use `attention='full'` without a prior."
        )
    return {
        "preset": preset,
        "attention": str(attention),
        "ppi_weights": str(values["ppi_weights"]),
        "prior": str(given["prior"]),
        "n_hidden": int(values["n_hidden"]),
        "n_condition_hidden": int(values["n_condition_hidden"]),
        "dropout": float(values["dropout"]),
        "bias": bool(values["bias"]),
        "residual": bool(values["residual"]),
        "n_bits": int(given["n_bits"]),
        "seed": int(given["seed"]),
    }


def head_params(preset: str, n_neighbours: int, shrinkage: float, **given: Any) -> dict[str, Any]:
    """The settings of a :class:`~sctl.models.CSG2AIC50`: those left at ``None`` from the preset, checked."""
    values = resolve_preset(preset, IC50_INIT_PRESETS, **given)
    if values["offset"] not in OFFSETS:
        raise ValueError(f"`offset` must be one of {', '.join(map(repr, OFFSETS))}, got {values['offset']!r}.")
    if isinstance(n_neighbours, bool) or not isinstance(n_neighbours, int) or n_neighbours < 1:
        raise ValueError(f"`n_neighbours` must be a positive integer, got {n_neighbours!r}.")
    if not np.isfinite(shrinkage) or shrinkage < 0:
        raise ValueError(f"`shrinkage` must be a non-negative number, got {shrinkage!r}.")
    hidden = values["n_head_hidden"]
    return {
        "preset": preset,
        **values,
        "n_projection": int(values["n_projection"]),
        "n_head_hidden": int(hidden) if isinstance(hidden, int) else [int(n) for n in hidden],
        "n_neighbours": int(n_neighbours),
        "shrinkage": float(shrinkage),
    }


def training_settings(preset: str, table: dict[str, dict[str, Any]], **given: Any) -> dict[str, Any]:
    """The settings of a ``train`` call (``table``: :data:`TRAIN_PRESETS` or :data:`IC50_TRAIN_PRESETS`), checked."""
    values = resolve_preset(preset, table, **given)
    if values.get("lr_schedule", "constant") not in LR_SCHEDULES:
        raise ValueError(f"`lr_schedule` must be one of {LR_SCHEDULES}, got {values['lr_schedule']!r}.")
    return values
