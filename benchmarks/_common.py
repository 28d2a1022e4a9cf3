"""Helpers shared by the benchmark scripts (a helper module: ``sctl benchmark`` does not run it)."""

import logging
import warnings

import numpy as np
import torch

import sctl


def quiet_single_thread() -> None:
    """One torch thread, no warnings, no Lightning or sctl log lines: the scripts print only their tables."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "sctl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def scored_report(truth, proba) -> dict[str, float]:
    """:func:`sctl.metrics.classification_report` over the cells ``predict_response`` scored (NaN: left unscored)."""
    truth, proba = np.asarray(truth), np.asarray(proba, dtype=float)
    scored = ~np.isnan(proba)
    return sctl.metrics.classification_report(truth[scored], proba[scored])
