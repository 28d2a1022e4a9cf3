"""Drug specificity: whether the scores of several drugs on the same cells tell the drugs apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sctl.metrics._classification import auroc


def drug_specificity(truth: pd.DataFrame, scores: pd.DataFrame) -> float:
    """Mean AUROC over the drugs of a pair or panel scored on the same cells: 0.5 = blind to the drug.

    In a tumour whose sub-populations respond in opposite directions to two drugs (the cells sensitive to one
    are resistant to the other), a score that ignores the drug (the same ranking for both, e.g. a general
    sensitivity) gets AUROC ``a`` on one drug and ``1 - a`` on the other: a mean of 0.5, however well it ranks
    one drug. More generally, with sub-populations of equal size each sensitive to one drug of a panel, any
    ranking shared by every drug averages 0.5. Only scores that move with the drug rise above it (sctl).

    Parameters
    ----------
    truth
        Cells x drugs: 0 / 1, booleans (``True`` = sensitive) or ``"sensitive"`` / ``"resistant"``; NaN = not
        labelled (left out of that drug's AUROC). Each drug needs both classes among its labelled cells, e.g.
        ``obsm["response"]`` of ``sctl.datasets.tumor(mode="drug_pair")``.
    scores
        Cells x drugs: scores or probabilities of *sensitive* (higher = more sensitive), the same cells (index)
        and drugs (columns) as ``truth``, in any order; NaN = not scored (left out, as unlabelled cells are).

    Returns
    -------
    The mean over drugs of each drug's AUROC, in [0, 1].

    Examples
    --------
    >>> truth = pd.DataFrame({"A": [1, 1, 0, 0], "B": [0, 0, 1, 1]})
    >>> blind = pd.DataFrame({"A": [0.9, 0.8, 0.2, 0.1], "B": [0.9, 0.8, 0.2, 0.1]})
    >>> drug_specificity(truth, blind)
    0.5
    """
    for name, table in (("truth", truth), ("scores", scores)):
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"`{name}` must be a DataFrame of cells x drugs, got {type(table).__name__}.")
    if truth.shape[1] < 2:
        raise ValueError(
            f"`truth` holds {truth.shape[1]} drug(s); drug specificity needs two or more drugs scored on the same "
            "cells. For one drug use `sctl.metrics.auroc`."
        )
    if set(truth.columns) != set(scores.columns) or set(truth.index) != set(scores.index):
        raise ValueError(
            "`truth` and `scores` must hold the same cells (index) and drugs (columns); truth has drugs "
            f"{list(truth.columns)} and {len(truth)} cells, scores {list(scores.columns)} and {len(scores)} cells."
        )
    scores = scores.loc[truth.index, truth.columns]
    per_drug = []
    for drug in truth.columns:
        labelled = truth[drug].notna().to_numpy() & scores[drug].notna().to_numpy()  # unscored cells skipped too
        try:
            per_drug.append(auroc(truth[drug].to_numpy()[labelled], scores[drug].to_numpy()[labelled]))
        except ValueError as error:
            raise ValueError(f"Drug {drug!r}: {error}") from error
    return float(np.mean(per_drug))
