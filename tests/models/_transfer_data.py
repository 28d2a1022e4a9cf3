"""Small embedded data shared by the transfer-model tests: 300 GDSC lines x landmark genes, 600 tumour cells."""

from __future__ import annotations

import functools

import sctl

DRUG = "Dabrafenib"


@functools.cache
def _source():
    bulk = sctl.datasets.gdsc()
    cells = sctl.datasets.tumor(DRUG, n_cells=600, seed=0)
    bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])]
    bulk = bulk[:300, bulk.var["landmark"].to_numpy()].copy()
    return bulk, cells


def bulk_and_cells():
    """Fresh copies: 300 bulk lines x 485 landmark genes (source lines of the tumour excluded), 600 cells."""
    bulk, cells = _source()
    return bulk.copy(), cells.copy()
