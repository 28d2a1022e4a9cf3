"""Semi-synthetic tumours: pseudo-single-cells simulated from real GDSC cell lines of known drug response.

Three kinds of shift between the bulk reference and the cells (``mode``):

- ``"between_lines"``: cells of many lines, half from sensitive, half from resistant lines;
- ``"within_line"``: ONE parental line with a sensitive and a resistant sub-population that differ along a real
  resistance program, beside response-independent programs: the shape of published drug-response single-cell sets;
- ``"held_out_tissue"``: cells of lines of one tissue, every line of which is to be held out of the reference;
- ``"drug_pair"``: ONE parental line scored for two (or more) drugs at once, with sub-populations that respond to
  them in opposite directions along drug-specific programs (or, selectable, along a general-sensitivity program).

Each can be measured on "another platform" (``platform_shift``, ``library_sd``, ``dropout_midpoint``) and on a
panel of the most variable genes only (``n_genes``). :func:`realistic_tumor` sets all of these at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from sctl._validate import check_drug, preview
from sctl.datasets._embedded import _gdsc_cached
from sctl.datasets._tumor_design import (
    _categorical,
    _Draw,
    _drug_pair,
    _held_out_tissue,
    _of_lines,
    _pick_lines,
    _within_line,
)
from sctl.datasets._tumor_platform import _log_normalize, _panel, _sample_counts

TUMOR_KEY = "sctl_tumor"
MODES = ("between_lines", "within_line", "held_out_tissue", "drug_pair")
#: what separates the sub-populations of a ``"drug_pair"`` tumour
SUBPOPULATIONS = ("specific", "general")


def _check_params(
    mode: str, n_cells: int, n_lines: int, k: float, dropout: float, library_size: float, dispersion: float
) -> None:
    if mode not in MODES:
        raise ValueError(f"Unknown `mode` {mode!r}; choose one of {preview(MODES)}.")
    if n_lines < 2:
        raise ValueError(f"`n_lines` must be at least 2 (one sensitive, one resistant line), got {n_lines}.")
    if n_cells < n_lines and mode not in ("within_line", "drug_pair"):
        raise ValueError(f"`n_cells` ({n_cells}) must be at least `n_lines` ({n_lines}) so that every line has cells.")
    if n_cells < 2:
        raise ValueError(f"`n_cells` must be at least 2 (one sensitive, one resistant cell), got {n_cells}.")
    if not 0 < k <= 0.5:
        raise ValueError(f"`k` must be in (0, 0.5]: the fraction of lines called sensitive and resistant, got {k}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1): the chance that a count is zeroed, got {dropout}.")
    if library_size <= 0 or dispersion <= 0:
        raise ValueError(
            f"`library_size` ({library_size}) and `dispersion` ({dispersion}) must be positive. "
            "Typical values: library_size=3000 counts per cell, dispersion=5."
        )


def _check_drugs(
    drug: str | Sequence[str], mode: str, subpopulations: str, general_shift: float, n_cells: int
) -> list[str]:
    """The drugs of the tumour: one name, or two or more distinct ones for ``mode="drug_pair"``."""
    drugs = [drug] if isinstance(drug, str) else [str(name) for name in drug]
    if mode != "drug_pair":
        if len(drugs) != 1:
            raise ValueError(
                f"Several drugs ({drugs}) need `mode='drug_pair'` (cells scored for every drug); mode {mode!r} "
                "takes one."
            )
        return drugs
    if len(drugs) < 2 or len(set(drugs)) < len(drugs):
        raise ValueError(
            f"`mode='drug_pair'` needs two or more distinct drugs, e.g. ['Dabrafenib', 'Docetaxel']; got {drugs}."
        )
    if subpopulations not in SUBPOPULATIONS:
        raise ValueError(f"Unknown `subpopulations` {subpopulations!r}; choose one of {preview(SUBPOPULATIONS)}.")
    if general_shift < 0:
        raise ValueError(
            f"`general_shift` must be >= 0 (0: the sub-populations differ along drug-specific programs only), got "
            f"{general_shift}."
        )
    if n_cells < len(drugs):
        raise ValueError(
            f"`n_cells` ({n_cells}) must be at least the number of drugs ({len(drugs)}): one sub-population each."
        )
    return drugs


def tumor(
    drug: str | Sequence[str] = "Dabrafenib",
    n_cells: int = 2000,
    n_lines: int = 16,
    *,
    mode: str = "between_lines",
    seed: int = 0,
    key: str = "ln_ic50",
    k: float = 0.3,
    effect: float = 1.0,
    nuisance: float = 0.6,
    tissue: str | None = None,
    subpopulations: str = "specific",
    general_shift: float = 0.5,
    platform_shift: float = 0.5,
    library_size: float = 3000.0,
    library_sd: float = 0.35,
    dispersion: float = 5.0,
    dropout: float = 0.1,
    dropout_midpoint: float | None = None,
    n_genes: int | None = None,
) -> AnnData:
    """A SEMI-SYNTHETIC tumour of pseudo-single-cells simulated from real GDSC cell lines of known response.

    This is not measured single-cell data. The expression profiles and drug responses are real
    (:func:`sctl.datasets.gdsc`); the cells are simulated from them. ``mode`` sets where the response lives:

    ``"between_lines"`` (default)
        Half of ``n_lines`` lines are drawn among the sensitive lines (bottom ``k`` fraction of ``drug``'s
        response ``key``), half among the resistant ones (top ``k``); half of the cells come from each group,
        split evenly over its lines. A cell's label is its line's. The task reduces to telling lines apart.
    ``"within_line"``
        ONE parental line (drawn among the sensitive lines), as in published drug-response single-cell sets
        (sensitive and resistant sub-populations of one line or patient). Half of the cells form a resistant
        sub-population, shifted along a real *resistance program*: the mean profile of ``n_lines // 2``
        resistant lines minus that of as many other sensitive lines, scaled to unit root-mean-square and
        multiplied by ``effect`` (the distance between the two sub-populations' means, in bulk z-score units;
        each cell's position spreads with sd ``effect / 4``). Every cell also varies along 8 response-independent
        programs: the leading principal axes of the 919 GDSC lines' expression (lineage, proliferation,
        EMT-like axes), made orthogonal to the resistance program, with total sd about ``nuisance``. There is
        no between-line signal to use.
    ``"held_out_tissue"``
        As ``"between_lines"``, but every line comes from one tissue (``tissue``, or drawn among those with
        enough sensitive and resistant lines), and the whole tissue is to be held out of the reference: a
        reference that never saw the tumour's tissue. Use ``key="auc"`` for labels from another response
        metric than a reference trained on ``"ln_ic50"``.
    ``"drug_pair"``
        ONE parental line scored for two or more drugs at once (``drug`` a list): the test of drug specificity
        (:func:`sctl.metrics.drug_specificity`). Programs come from the split of GDSC response into a line's
        general sensitivity and its drug-specific response (:func:`sctl.pp.drug_specific_response` on
        ``key``). With ``subpopulations="specific"`` (default), drug ``j``'s program is the mean profile of
        ``n_lines - n_lines // 2`` lines specifically resistant to it (top ``k`` of its specific response)
        minus that of ``n_lines // 2`` lines specifically sensitive to it (bottom ``k``), and the cells form one
        sub-population per drug, sensitive to that drug and resistant to the others: ``-effect / 2`` on its
        program, ``+effect / 2`` on the others' (spread ``effect / 4``). For a pair, the cells sensitive to one
        drug are the cells resistant to the other, so any drug-blind score averages an AUROC of 0.5. With
        ``general_shift`` > 0, the sub-populations also differ along the general-sensitivity program (generally
        resistant minus generally sensitive lines): the first drug's sensitive cells sit ``general_shift *
        effect`` lower than the others, as sub-populations of real tumours differ in general traits such as
        proliferation (sctl); a model that learnt general sensitivity then ranks them sensitive to every drug.
        With ``subpopulations="general"``, half of the cells are resistant to every drug, along the
        general-sensitivity program alone: a drug-blind score suffices. The parental line is drawn among the
        lines in none of the pools (average on every program); nuisance programs as for ``"within_line"``.

    Cells are then "measured": for each cell

    1. the rate of each gene is ``exp(1.2 z + b)``, with ``z`` the cell's expression z-score and ``b`` a
       per-gene platform offset drawn from N(0, ``platform_shift ** 2``) (a gene-wise platform effect);
    2. a library size is drawn from a log-normal around ``library_size`` (sd ``library_sd`` on the log scale);
    3. counts are negative-binomial (gamma-Poisson, inverse dispersion ``dispersion``) around library x rate;
    4. each count is zeroed with probability ``dropout``, and, with ``dropout_midpoint``, with the
       expression-dependent probability ``1 / (1 + (mean / dropout_midpoint)²)`` (low-expressed genes drop out
       most);
    5. with ``n_genes``, only the ``n_genes`` most variable genes are kept (a highly-variable-gene panel).

    Exclude ``uns["sctl_tumor"]["held_out_lines"]`` from any training reference, or the answers leak.

    Parameters
    ----------
    drug
        A drug of :func:`sctl.datasets.gdsc` (a column of its ``obsm[key]``); for ``"drug_pair"``, a list of two
        or more.
    n_cells
        Number of cells.
    n_lines
        Number of source lines (``n_lines // 2`` sensitive, the rest resistant); for ``"within_line"``, the
        lines whose contrast defines the resistance program.
    mode
        ``"between_lines"``, ``"within_line"``, ``"held_out_tissue"`` or ``"drug_pair"`` (above).
    seed
        Seed of the random generator: the same seed gives the same tumour.
    key
        Response table used to call lines sensitive / resistant: ``"ln_ic50"`` or ``"auc"``.
    k
        Fraction of the tested lines forming each of the sensitive and resistant pools.
    effect, nuisance
        ``"within_line"`` and ``"drug_pair"`` only: distance between the sub-populations along the resistance
        program (each program), and sd of the response-independent programs (bulk z-score units; a typical line
        differs from another by ~1.4).
    tissue
        ``"held_out_tissue"`` only: the tissue (``None``: drawn at random among the eligible ones).
    subpopulations
        ``"drug_pair"`` only: ``"specific"`` (sub-populations of opposite response to the drugs) or
        ``"general"`` (resistant to all / sensitive to all).
    general_shift
        ``"drug_pair"`` with ``subpopulations="specific"`` only: distance between the sub-populations along the
        general-sensitivity program, as a fraction of ``effect`` (0: drug-specific programs only).
    platform_shift
        Sd of the per-gene platform offset on the log scale.
    library_size, library_sd
        Median number of counts per cell, and sd of the log library size.
    dispersion
        Inverse dispersion of the negative binomial (smaller = noisier cells).
    dropout
        Probability that a count is set to zero on top of sampling zeros.
    dropout_midpoint
        Mean count at which half of a gene's counts drop out (``None``: no expression-dependent dropout).
    n_genes
        Keep only this many most variable genes (``None``: the 2,000 genes of :func:`sctl.datasets.gdsc`).

    Returns
    -------
    Cells x genes, with

    - ``layers["counts"]``: integer-valued counts (sparse CSR, float32);
    - ``X``: log-normalised counts (counts per 10,000, then ``log1p``; sparse CSR, float32);
    - ``obs``: ``cell_line``, ``tissue``, ``response`` (categorical, ``["resistant", "sensitive"]``: the ground
      truth); for whole-line modes ``ln_ic50`` and ``auc`` of the source line for ``drug``; for
      ``"within_line"`` ``resistance_program`` (the cell's graded position on the program); for
      ``"drug_pair"``, ``response_<drug>`` for every drug (``response`` is the first drug's), ``subpopulation``
      and ``program_<drug>`` (and ``program_general``): the cell's position on each program;
    - ``obsm["response"]`` (``"drug_pair"``): the truth, cells x drugs, ``"sensitive"`` / ``"resistant"``;
    - ``uns["sctl_tumor"]``: ``params``, ``cell_lines`` (lines the cells come from), ``sensitive_lines``,
      ``resistant_lines``, ``held_out_lines`` (every line to keep out of a reference), ``parental_line`` or
      ``tissue`` where they apply, for ``"drug_pair"`` ``drugs``, ``subpopulations`` and ``programs`` (per
      program, its ``sensitive_lines`` and ``resistant_lines``), and a note that the data are semi-synthetic.

    Raises
    ------
    KeyError
        When ``drug`` is not in the embedded GDSC data (naming the known drugs).

    Examples
    --------
    >>> cells = sctl.datasets.tumor("Dabrafenib", n_cells=500, seed=1)
    >>> cells.obs["response"].value_counts().to_dict()
    {'resistant': 250, 'sensitive': 250}
    >>> one_line = sctl.datasets.tumor("Dabrafenib", n_cells=200, mode="within_line")
    >>> one_line.obs["cell_line"].nunique()
    1
    >>> pair = sctl.datasets.tumor(["Trametinib", "Olaparib"], n_cells=200, mode="drug_pair")
    >>> pair.obsm["response"].value_counts().to_dict()
    {('resistant', 'sensitive'): 100, ('sensitive', 'resistant'): 100}
    """
    _check_params(mode, n_cells, n_lines, k, dropout, library_size, dispersion)
    bulk = _gdsc_cached()
    drugs = _check_drugs(drug, mode, subpopulations, general_shift, n_cells)
    response = check_drug(bulk, drugs[0], key)
    for other in drugs[1:]:
        check_drug(bulk, other, key)
    rng = np.random.default_rng(seed)
    draw = _Draw(n_cells, n_lines, k, effect, nuisance, rng)
    if mode == "drug_pair":
        design = _drug_pair(bulk, drugs, key, subpopulations, general_shift, draw)
    elif mode == "within_line":
        design = _within_line(bulk, response, draw)
    elif mode == "held_out_tissue":
        design = _held_out_tissue(bulk, response, tissue, draw)
    else:
        design = _of_lines(bulk, *_pick_lines(response, n_lines // 2, n_lines - n_lines // 2, k, rng), n_cells, rng)
    counts = _sample_counts(
        design.cell_z,
        rng,
        platform_shift=platform_shift,
        library_size=library_size,
        library_sd=library_sd,
        dispersion=dispersion,
        dropout=dropout,
        dropout_midpoint=dropout_midpoint,
    )
    lognorm = _log_normalize(counts)
    genes = _panel(lognorm, n_genes)
    obs = pd.DataFrame(
        {
            **design.obs,
            "response": _categorical(design.response),
        },
        index=pd.Index([f"cell_{index:05d}" for index in range(n_cells)]),
    )
    if mode not in ("within_line", "drug_pair"):
        source = obs["cell_line"].astype(str).to_numpy()
        for name in ("ln_ic50", "auc"):
            if name in bulk.obsm:
                obs[name] = bulk.obsm[name][drug].reindex(source).to_numpy(dtype=np.float64)
    adata = AnnData(sparse.csr_matrix(lognorm[:, genes]), obs=obs, var=pd.DataFrame(index=bulk.var_names[genes].copy()))
    adata.layers["counts"] = sparse.csr_matrix(counts[:, genes])
    if mode == "drug_pair":
        adata.obsm["response"] = pd.DataFrame({name: obs[f"response_{name}"] for name in drugs}, index=obs.index)
    adata.uns["log1p"] = {"base": None}
    adata.uns[TUMOR_KEY] = {
        "params": {
            "drug": drug if isinstance(drug, str) else drugs,
            "n_cells": int(n_cells),
            "n_lines": int(n_lines),
            "mode": mode,
            "seed": int(seed),
            "key": key,
            "k": float(k),
            "effect": float(effect),
            "nuisance": float(nuisance),
            "platform_shift": float(platform_shift),
            "library_size": float(library_size),
            "library_sd": float(library_sd),
            "dispersion": float(dispersion),
            "dropout": float(dropout),
            "dropout_midpoint": dropout_midpoint,
            "n_genes": n_genes,
            "subpopulations": subpopulations if mode == "drug_pair" else None,
            "general_shift": float(general_shift) if mode == "drug_pair" and subpopulations == "specific" else None,
        },
        **design.info,
        "note": f"semi-synthetic ({mode}): cells simulated from real GDSC lines; response = the simulated truth",
    }
    adata.uns[TUMOR_KEY]["params"] = {k_: v for k_, v in adata.uns[TUMOR_KEY]["params"].items() if v is not None}
    return adata


#: the platform of :func:`realistic_tumor`: droplet-like library sizes, gene-wise shift, dropout, a gene panel
REALISTIC_PLATFORM = {
    "platform_shift": 1.0,
    "library_size": 4000.0,
    "library_sd": 0.6,
    "dispersion": 3.0,
    "dropout": 0.0,
    "dropout_midpoint": 0.3,
    "n_genes": 800,
}


def realistic_tumor(
    drug: str | Sequence[str] = "Dabrafenib", mode: str = "within_line", n_cells: int = 500, *, seed: int = 0, **kwargs
) -> AnnData:
    """A semi-synthetic tumour with the shifts of real drug-response single-cell data: the realistic-shift benchmark.

    :func:`tumor` with a droplet-like platform, set through these arguments of :func:`tumor`: gene-wise platform
    offsets of sd 1 on the log scale (``platform_shift=1.0``), library sizes around 4,000 with sd 0.6 on the log
    scale (``library_size=4000, library_sd=0.6``), overdispersed counts (``dispersion=3``), expression-dependent
    dropout only (``dropout=0, dropout_midpoint=0.3``), and a panel of the 800 most variable genes, 40 % of the
    reference's (``n_genes=800``). Pass any of them to override it.
    By default ``mode="within_line"``: one parental line with sensitive and resistant sub-populations, the case
    where bulk-to-single-cell transfer is hardest and that published sets share. How the methods of
    :func:`sctl.tl.predict_response` fare on these tumours: ``docs/methods/ensemble.md``; for drug specificity,
    score ``realistic_tumor(["Trametinib", "Olaparib"], mode="drug_pair")`` with
    :func:`sctl.metrics.drug_specificity`.

    Parameters
    ----------
    drug, mode, n_cells, seed
        As in :func:`tumor` (a list of drugs for ``mode="drug_pair"``).
    **kwargs
        Any other argument of :func:`tumor`; overrides the platform settings.

    Returns
    -------
    As :func:`tumor`. Exclude ``uns["sctl_tumor"]["held_out_lines"]`` from the reference.

    Examples
    --------
    >>> cells = sctl.datasets.realistic_tumor("Dabrafenib", seed=0)
    >>> cells.shape
    (500, 800)
    """
    return tumor(drug, n_cells, mode=mode, seed=seed, **{**REALISTIC_PLATFORM, **kwargs})
