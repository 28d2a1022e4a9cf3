"""Marker genes of the post-treatment cell states of GRIP-Lung, curated for sctl from the primary literature."""

from __future__ import annotations

from functools import cache

import pandas as pd

from sctl._validate import preview
from sctl.datasets._embedded import data_path

_STATE_MARKERS_FILE = "state_markers.csv"
EFFECTIVE = "effective"
INEFFECTIVE = "ineffective"
#: column of :func:`state_markers` naming the GRIP-Lung state a set is part of
PARENT_KEY = "parent_state"


@cache
def _state_markers_cached() -> pd.DataFrame:
    return pd.read_csv(data_path(_STATE_MARKERS_FILE), dtype=str, keep_default_na=False)


def state_markers(states: list[str] | None = None) -> pd.DataFrame:
    """Marker genes of eight post-treatment cell states, each with the paper that supports it.

    GRIP-Lung scores the predicted profile of a treated sample on the six states of its section 4.10
    (programmed cell death, split into apoptosis, autophagy and ferroptosis; senescence; cell-cycle arrest;
    drug resistance; immune escape; malignant progression) and calls the treatment effective or ineffective from
    them. Its gene sets (Supplementary Table S5) are not redistributable, so sctl ships its own: 136 human gene
    symbols, 14-22 per state, chosen by hand from the primary literature (not copied from MSigDB). As in
    GRIP-Lung, a gene is listed only when its *up-regulation* marks the state, so suppressors sit elsewhere or
    nowhere: anti-apoptotic ``BCL2``, ``BCL2L1``, ``MCL1`` mark drug resistance, not apoptosis; the ferroptosis
    suppressor ``GPX4`` is left out, while the markers induced during ferroptosis (``PTGS2``, ``CHAC1``,
    ``SLC7A11`` as a feedback response) and its drivers (``ACSL4``, ``LPCAT3``, ``ALOX15``) are in. A gene may
    mark two states (``CDKN1A``: senescence and cell-cycle arrest).

    States of ``category == "effective"`` (apoptosis, autophagy, ferroptosis, senescence, cell_cycle_arrest)
    indicate a working treatment, those of ``"ineffective"`` (drug_resistance, immune_escape,
    malignant_progression) a failing one; :func:`sctl.tl.score_states` combines them into the resistance index.
    ``parent_state`` names the GRIP-Lung state of each set: ``"programmed_cell_death"`` for apoptosis,
    autophagy and ferroptosis, the set itself otherwise. :func:`sctl.tl.score_states` averages the sets of one
    parent state into that state, so that the resistance index weighs the six states of the paper equally
    (programmed cell death counts once, not three times).

    The references (first author, year, journal) were written from the curator's knowledge of the literature;
    check them before citing them in a publication.

    Parameters
    ----------
    states
        Keep only these states (default: all eight).

    Returns
    -------
    One row per (state, gene) pair, columns ``state``, ``category``, ``parent_state``, ``gene``,
    ``reference``; pass it to :func:`sctl.tl.score_states` as ``genesets=``.

    Examples
    --------
    >>> markers = sctl.datasets.state_markers()
    >>> markers.groupby("category")["state"].nunique().to_dict()
    {'effective': 5, 'ineffective': 3}
    >>> markers.groupby("category")["parent_state"].nunique().to_dict()  # the six states of GRIP-Lung
    {'effective': 3, 'ineffective': 3}
    """
    markers = _state_markers_cached().copy()
    if states is not None:
        unknown = sorted(set(states) - set(markers["state"]))
        if unknown:
            raise ValueError(
                f"Unknown state(s) {preview(unknown)}. Known states: {preview(markers['state'].unique())}."
            )
        markers = markers[markers["state"].isin(states)].reset_index(drop=True)
    return markers
