"""A semi-synthetic tumour: pseudo-single-cells sampled from real GDSC cell lines with known drug response."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._constants import RESISTANT, RESPONSE_CATEGORIES, SENSITIVE
from .._validate import check_drug
from ._embedded import _gdsc_cached

TUMOR_KEY = "sctl_tumor"
# log-rate of a gene in a line = _Z_SCALE * z-score + per-gene baseline ~ N(0, _BASELINE_SD)
_Z_SCALE = 1.2
_BASELINE_SD = 0.5
_LIBRARY_SD = 0.35  # sd of log library size across cells
_TARGET_SUM = 1e4


def _check_params(n_cells: int, n_lines: int, k: float, dropout: float, library_size: float, dispersion: float) -> None:
    if n_lines < 2:
        raise ValueError(f"`n_lines` must be at least 2 (one sensitive, one resistant line), got {n_lines}.")
    if n_cells < n_lines:
        raise ValueError(f"`n_cells` ({n_cells}) must be at least `n_lines` ({n_lines}) so that every line has cells.")
    if not 0 < k <= 0.5:
        raise ValueError(f"`k` must be in (0, 0.5]: the fraction of lines called sensitive and resistant, got {k}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1): the chance that a count is zeroed, got {dropout}.")
    if library_size <= 0 or dispersion <= 0:
        raise ValueError(
            f"`library_size` ({library_size}) and `dispersion` ({dispersion}) must be positive. "
            "Typical values: library_size=3000 counts per cell, dispersion=5."
        )


def _pick_lines(response: pd.Series, n_lines: int, k: float, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Draw sensitive lines among the bottom ``k`` and resistant ones among the top ``k`` of the response."""
    tested = response.dropna().sort_values(kind="stable")
    n_pool = int(np.floor(k * len(tested)))
    n_sensitive, n_resistant = n_lines // 2, n_lines - n_lines // 2
    if n_pool < n_resistant:
        raise ValueError(
            f"Drug {response.name!r} has {len(tested)} tested lines, so the top / bottom {k:.0%} hold "
            f"{n_pool}; "
            f"too few for {n_lines} lines. Lower `n_lines` or raise `k`."
        )
    sensitive = rng.choice(tested.index[:n_pool].to_numpy(), size=n_sensitive, replace=False)
    resistant = rng.choice(tested.index[len(tested) - n_pool :].to_numpy(), size=n_resistant, replace=False)
    return [str(line) for line in sensitive], [str(line) for line in resistant]


def _cells_per_line(n_cells: int, sensitive: list[str], resistant: list[str]) -> np.ndarray:
    """Split the cells half sensitive, half resistant, evenly over the lines of each class."""
    n_sensitive_cells = n_cells // 2
    sizes = [len(part) for part in np.array_split(np.arange(n_sensitive_cells), len(sensitive))]
    sizes += [len(part) for part in np.array_split(np.arange(n_cells - n_sensitive_cells), len(resistant))]
    return np.asarray(sizes)


def _sample_counts(
    profiles: np.ndarray,
    line_of_cell: np.ndarray,
    rng: np.random.Generator,
    *,
    library_size: float,
    dispersion: float,
    dropout: float,
) -> np.ndarray:
    """Negative-binomial counts around each line's expression profile, with library sizes and dropout."""
    log_rate = _Z_SCALE * profiles + rng.normal(0.0, _BASELINE_SD, size=profiles.shape[1])
    proportions = np.exp(log_rate - log_rate.max(axis=1, keepdims=True))
    proportions /= proportions.sum(axis=1, keepdims=True)
    library = rng.lognormal(np.log(library_size), _LIBRARY_SD, size=len(line_of_cell))
    mean = library[:, None] * proportions[line_of_cell]
    counts = rng.poisson(rng.gamma(dispersion, mean / dispersion)).astype(np.float32)
    if dropout > 0:
        counts[rng.random(counts.shape, dtype=np.float32) < dropout] = 0
    return counts


def _log_normalize(counts: np.ndarray) -> np.ndarray:
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return np.log1p(counts / totals * _TARGET_SUM).astype(np.float32)


def tumor(
    drug: str = "Dabrafenib",
    n_cells: int = 2000,
    n_lines: int = 16,
    *,
    seed: int = 0,
    key: str = "ln_ic50",
    k: float = 0.3,
    dropout: float = 0.1,
    library_size: float = 3000.0,
    dispersion: float = 5.0,
) -> AnnData:
    """A SEMI-SYNTHETIC tumour of pseudo-single-cells drawn from real GDSC cell lines of known response.

    This is not measured single-cell data. The expression profiles and drug responses are real
    (:func:`sctl.datasets.gdsc`); the cells are simulated from them. Half of ``n_lines`` lines are drawn
    among the sensitive lines (bottom ``k`` fraction of ``drug``'s response ``key``), half among the resistant
    ones (top ``k``); half of the cells come from each group, split evenly over its lines. For each cell:

    1. the line's rate of each gene is ``exp(1.2 * z + b)``, with ``z`` the line's expression z-score and
       ``b`` a per-gene baseline drawn from N(0, 0.5²);
    2. a library size is drawn from a log-normal around ``library_size`` (sd 0.35 on the log scale);
    3. counts are negative-binomial (gamma-Poisson, inverse dispersion ``dispersion``) around library x rate;
    4. each count is zeroed with probability ``dropout``.

    The ground truth ``obs["response"]`` is the label of the source line, so it is known for every cell.
    It is a test bed for bulk-to-single-cell transfer, with the caveat that cell-to-cell variation is
    simulated. Exclude ``uns["sctl_tumor"]["cell_lines"]`` from any training reference, or the answers leak.

    Parameters
    ----------
    drug
        A drug of :func:`sctl.datasets.gdsc` (a column of its ``obsm[key]``).
    n_cells
        Number of cells.
    n_lines
        Number of source lines (``n_lines // 2`` sensitive, the rest resistant).
    seed
        Seed of the random generator: the same seed gives the same tumour.
    key
        Response table used to call lines sensitive / resistant: ``"ln_ic50"`` or ``"auc"``.
    k
        Fraction of the tested lines forming each of the sensitive and resistant pools.
    dropout
        Probability that a count is set to zero on top of sampling zeros.
    library_size
        Median number of counts per cell.
    dispersion
        Inverse dispersion of the negative binomial (smaller = noisier cells).

    Returns
    -------
    Cells x genes (the genes of :func:`sctl.datasets.gdsc`), with

    - ``layers["counts"]``: integer-valued counts (sparse CSR, float32);
    - ``X``: log-normalised counts (counts per 10,000, then ``log1p``; sparse CSR, float32);
    - ``obs``: ``cell_line``, ``tissue``, ``response`` (categorical, ``["resistant", "sensitive"]``: the
      source line's label), ``ln_ic50`` and ``auc`` of the source line for ``drug``;
    - ``uns["sctl_tumor"]``: ``params``, ``cell_lines`` (all source lines), ``sensitive_lines``,
      ``resistant_lines`` and a note that the data are semi-synthetic.

    Raises
    ------
    KeyError
        When ``drug`` is not in the embedded GDSC data (naming the known drugs).

    Example
    -------
    >>> cells = sctl.datasets.tumor("Dabrafenib", n_cells=500, seed=1)
    >>> cells.obs["response"].value_counts().to_dict()
    {'resistant': 250, 'sensitive': 250}
    """
    _check_params(n_cells, n_lines, k, dropout, library_size, dispersion)
    bulk = _gdsc_cached()
    response = check_drug(bulk, drug, key)
    rng = np.random.default_rng(seed)
    sensitive, resistant = _pick_lines(response, n_lines, k, rng)
    lines = sensitive + resistant
    line_of_cell = rng.permutation(np.repeat(np.arange(len(lines)), _cells_per_line(n_cells, sensitive, resistant)))
    profiles = np.asarray(bulk[lines].X, dtype=np.float64)
    counts = _sample_counts(
        profiles, line_of_cell, rng, library_size=library_size, dispersion=dispersion, dropout=dropout
    )
    source = [lines[index] for index in line_of_cell]
    tables = {name: bulk.obsm[name][drug] for name in ("ln_ic50", "auc") if name in bulk.obsm}
    obs = pd.DataFrame(
        {
            "cell_line": pd.Categorical(source, categories=lines),
            "tissue": pd.Categorical(bulk.obs["tissue"].astype(object).reindex(source).to_numpy()),
            "response": pd.Categorical(
                [SENSITIVE if line in sensitive else RESISTANT for line in source],
                categories=list(RESPONSE_CATEGORIES),
            ),
            **{name: table.reindex(source).to_numpy(dtype=np.float64) for name, table in tables.items()},
        },
        index=pd.Index([f"cell_{index:05d}" for index in range(n_cells)]),
    )
    adata = AnnData(sparse.csr_matrix(_log_normalize(counts)), obs=obs, var=pd.DataFrame(index=bulk.var_names.copy()))
    adata.layers["counts"] = sparse.csr_matrix(counts)
    adata.uns["log1p"] = {"base": None}
    adata.uns[TUMOR_KEY] = {
        "params": {
            "drug": drug, "n_cells": int(n_cells), "n_lines": int(n_lines), "seed": int(seed), "key": key,
            "k": float(k), "dropout": float(dropout), "library_size": float(library_size),
            "dispersion": float(dispersion),
        },
        "cell_lines": lines,
        "sensitive_lines": sensitive,
        "resistant_lines": resistant,
        "note": "semi-synthetic: cells simulated from real GDSC lines; response = the source line's label",
    }  # fmt: skip
    return adata
