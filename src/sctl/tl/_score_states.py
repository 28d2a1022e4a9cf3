"""Score post-treatment cell states and the resistance index of GRIP-Lung on observed or predicted profiles."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import (
    EFFECTIVE_SCORE_KEY,
    INEFFECTIVE_SCORE_KEY,
    RESISTANCE_INDEX_KEY,
    STATE_CALL_KEY,
    STATE_CALLS,
    STATES_KEY,
)
from sctl._docs import doc_params
from sctl._stream import Rows, describe
from sctl._validate import (
    check_finite,
    check_unique_var_names,
    get_matrix,
    is_mudata,
    preview,
    pull_obs_columns,
    resolve_modality,
)
from sctl.datasets._states import EFFECTIVE, INEFFECTIVE, PARENT_KEY, state_markers
from sctl.tl._state_kernels import _score_backed, _score_block

if TYPE_CHECKING:
    from mudata import MuData

DECOUPLER_METHODS = ("ulm", "aucell", "gsva", "zscore", "mlm", "viper")
METHODS = ("ssgsea", *DECOUPLER_METHODS)
STATE_OBS_KEYS = (EFFECTIVE_SCORE_KEY, INEFFECTIVE_SCORE_KEY, RESISTANCE_INDEX_KEY, STATE_CALL_KEY)

GeneSets = pd.DataFrame | Mapping[str, Sequence[str]]


@doc_params()
def score_states(
    adata: AnnData | MuData,
    *,
    mod: str | None = None,
    layer: str | None = None,
    genesets: GeneSets | None = None,
    method: str = "ssgsea",
    min_genes: int = 5,
    effective: Sequence[str] | None = None,
    ineffective: Sequence[str] | None = None,
    alpha: float = 0.25,
    chunk_size: int = 5000,
    key_added: str = STATES_KEY,
    copy: bool = False,
) -> MuData | AnnData | None:
    """Score each cell on post-treatment states and call the treatment effective or not (GRIP-Lung).

    GRIP-Lung (section 4.10; github.com/XieHB-lab/GRIP-Lung) scores the predicted post-treatment profile of each
    sample by ssGSEA on marker sets of six states: programmed cell death (apoptosis, autophagy, ferroptosis),
    senescence and cell-cycle arrest mark an *effective* treatment; drug resistance, immune escape and malignant
    progression an *ineffective* one. Each set's score is z-scored across the samples; the effective score is
    the mean z-score of the effective states, the ineffective score that of the ineffective ones, and the
    resistance index is ``RI = ineffective - effective``. sctl scores programmed cell death with three sets
    (apoptosis, autophagy, ferroptosis); their z-scores are averaged into the one state of the paper before the
    mean, so each of the six states weighs the same (cell death 1/3 of the effective score, not 3/5). A sample
    is called ``"effective"`` when ``RI <= 0``, ``"ineffective"`` otherwise. The z-scores make RI relative to
    the cells scored together: score the treated cells of one experiment in one call.

    ssGSEA :cite:p:`barbie2009ssgsea` is computed exactly, vectorised over cells: for a sample whose genes have
    ranks ``r`` (1 = lowest) among ``N`` genes and a set ``S`` of ``k`` genes, the enrichment score (the area under
    the running sum, as in GSVA and gseapy) is
    ``sum_S r^(1+a) / sum_S r^a - (N(N+1)/2 - sum_S r) / (N - k)``, with weight ``a = alpha`` (0.25).
    It equals gseapy's ``ES``; tied values (e.g. zeros) get their average rank, which is the expected score
    over random orderings of the ties. The other methods are those of decoupler 2 :cite:p:`badia2022decoupler`:
    ``"ulm"``, ``"aucell"`` :cite:p:`aibar2017scenic`, ``"gsva"`` :cite:p:`hanzelmann2013gsva`, ``"zscore"``,
    ``"mlm"``, ``"viper"``.

    A :class:`~mudata.MuData` works too: ``score_states(mdata, mod="cells")`` scores the modality ``mod`` and
    writes the results there; the four new ``obs`` columns are pulled to ``mdata.obs`` as ``f"{mod}:{column}"``
    (:meth:`~mudata.MuData.pull_obs`), the other results stay on the modality.

    Parameters
    ----------
    adata
        Cells (or samples) x genes; log-normalised expression in ``X`` or in ``layer``. Or a MuData whose
        modality ``mod`` holds them.
    mod
        When ``adata`` is a MuData: the modality to score (may be omitted if it is the only one).
    layer
        Layer to score, e.g. ``"sctl_predicted"`` for profiles predicted after treatment (default: ``X``).
    genesets
        Marker sets: a DataFrame with columns ``state`` and ``gene`` (optionally ``category``, ``"effective"``
        or ``"ineffective"``, and ``parent_state``, the state a set is part of: sets of one parent state are
        averaged into it), a decoupler network (``source``, ``target``), or a mapping state -> genes. Without
        ``parent_state``, sctl's set names get their GRIP-Lung state (apoptosis, autophagy, ferroptosis ->
        programmed cell death) and other sets stand alone. Default: :func:`sctl.datasets.state_markers`.
    method
        ``"ssgsea"`` or a decoupler method of :data:`DECOUPLER_METHODS`.
    min_genes
        Fewest genes of a set that must be in ``adata``; sets with fewer raise an error.
    effective, ineffective
        States forming the effective and ineffective scores. Default: the ``category`` column of ``genesets``,
        else the GRIP-Lung categories of sctl's state names. Without both, only the state scores are written.
    alpha
        Weight exponent of ssGSEA.
    chunk_size
        Cells scored at once by ssGSEA (bounds the memory to about ``chunk_size x n_genes x 24`` bytes), and by
        every method on an AnnData opened with ``anndata.read_h5ad(path, backed="r")``: its ``X`` is then read
        ``chunk_size`` cells at a time, never loaded whole. Every method but ``"gsva"`` scores each cell on its
        own, so the scores do not depend on the chunks; GSVA compares every cell with every other and cannot
        stream (load the cells first, ``adata.to_memory()``, or use another method).
    key_added
        State scores go to ``adata.obsm[key_added]`` and the parameters to ``adata.uns[key_added]``.
    {copy}

    {returns_copy}
    Sets, on ``adata`` (or on ``adata.mod[mod]`` for a MuData)

    ``adata.obsm[key_added]``
        DataFrame, cells x states, the raw score of each state (ssGSEA: enrichment score);
    ``adata.obs["sctl_effective_score"]``, ``adata.obs["sctl_ineffective_score"]``
        mean z-score of the effective / ineffective states (a state's z-score: the mean over its sets);
    ``adata.obs["sctl_resistance_index"]``
        ``ineffective - effective``;
    ``adata.obs["sctl_state_call"]``
        categorical, ``"effective"`` (``RI <= 0``) or ``"ineffective"``;
    ``adata.uns[key_added]["params"]``
        method, layer, the sets of each category (``effective``, ``ineffective``), the states they form
        (``effective_states``, ``ineffective_states``: state -> its sets) and the genes found per set.

    Examples
    --------
    >>> cells = sctl.datasets.tumor(n_cells=300)
    >>> sctl.tl.score_states(cells)
    >>> cells.obsm["sctl_states"].columns.tolist()[:3]
    ['apoptosis', 'autophagy', 'ferroptosis']
    >>> cells.obs["sctl_state_call"].value_counts()  # doctest: +SKIP
    """
    mdata = (adata.copy() if copy else adata) if is_mudata(adata) else None
    adata = resolve_modality(adata if mdata is None else mdata, mod)
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {preview(METHODS)}.")
    if adata.n_obs < 2:
        raise ValueError("Scores are z-scored across cells: `adata` needs at least two observations.")
    check_unique_var_names(adata)
    matrix = get_matrix(adata, layer)
    backed = adata.isbacked and layer is None  # X stays on disk (layers of a backed AnnData are in memory)
    if not backed:
        check_finite(matrix, describe(layer))
    net, categories, parents = _as_network(genesets)
    found = _check_coverage(net, adata.var_names, min_genes)
    net = net[net["target"].isin(adata.var_names)]
    if backed:
        rows = Rows(matrix, what=describe(layer))
        scores = _score_backed(rows, adata, net, method, alpha=alpha, min_genes=min_genes, chunk_size=chunk_size)
    else:
        scores = _score_block(
            matrix,
            adata.var_names,
            adata.obs_names,
            net,
            method,
            alpha=alpha,
            min_genes=min_genes,
            chunk_size=chunk_size,
        )
    scores.index = adata.obs_names
    _check_scored(scores, method)
    groups = _categories(scores.columns, categories, effective, ineffective)
    states = None if groups is None else _parent_states(groups, parents)

    adata = adata.copy() if copy and mdata is None else adata
    adata.obsm[key_added] = scores
    if states is not None:
        _write_index(adata, scores, *states)
    adata.uns[key_added] = {
        "params": {
            "method": method,
            "layer": layer,
            "min_genes": int(min_genes),
            **({"alpha": float(alpha)} if method == "ssgsea" else {}),
            "effective": list(groups[0]) if groups else [],
            "ineffective": list(groups[1]) if groups else [],
            "effective_states": states[0] if states else {},
            "ineffective_states": states[1] if states else {},
        },
        "n_genes": found,
    }
    if mdata is not None:
        pull_obs_columns(mdata, adata, STATE_OBS_KEYS if groups is not None else [])
    return (adata if mdata is None else mdata) if copy else None


def _as_network(genesets: GeneSets | None) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """Turn the accepted gene-set forms into a ``source``/``target`` network, set -> category, set -> parent."""
    if genesets is None:
        genesets = state_markers()
    if isinstance(genesets, Mapping):
        pairs = [(state, gene) for state, genes in genesets.items() for gene in _as_genes(state, genes)]
        return pd.DataFrame(pairs, columns=["source", "target"]), {}, _sctl_parents()
    if not isinstance(genesets, pd.DataFrame):
        raise TypeError(f"`genesets` must be a DataFrame or a mapping state -> genes, got {type(genesets).__name__}.")
    columns = {"state": "source", "gene": "target"}
    net = genesets.rename(columns=columns)
    if not {"source", "target"}.issubset(net.columns):
        raise ValueError(
            "`genesets` needs columns `state` and `gene` (or decoupler's `source` and `target`), "
            f"got {preview(genesets.columns)}."
        )
    per_set = net.drop_duplicates("source").set_index("source")
    categories = per_set["category"].astype(str).to_dict() if "category" in net.columns else {}
    parents = per_set[PARENT_KEY].astype(str).to_dict() if PARENT_KEY in net.columns else _sctl_parents()
    net = net[["source", "target"]].astype(str).drop_duplicates().reset_index(drop=True)
    return net, categories, parents


def _sctl_parents() -> dict[str, str]:
    """Set -> GRIP-Lung state of sctl's marker sets (apoptosis, autophagy, ferroptosis -> programmed cell death)."""
    return state_markers().drop_duplicates("state").set_index("state")[PARENT_KEY].to_dict()


def _as_genes(state: str, genes: Sequence[str]) -> list[str]:
    if isinstance(genes, str):
        raise TypeError(f"The genes of state {state!r} must be a list of gene names, not one string.")
    return [str(gene) for gene in genes]


def _check_coverage(net: pd.DataFrame, var_names: pd.Index, min_genes: int) -> dict[str, list[int]]:
    """Return state -> [genes found, genes listed]; raise naming every set with fewer than ``min_genes`` found."""
    if net.empty:
        raise ValueError("`genesets` is empty.")
    present = net["target"].isin(var_names)
    found = present.groupby(net["source"], sort=False).sum()
    listed = net.groupby("source", sort=False).size()
    short = found[found < min_genes]
    if len(short):
        details = ", ".join(f"{state!r}: {int(n)} of {int(listed[state])}" for state, n in short.items())
        raise ValueError(
            f"{len(short)} gene set(s) have fewer than min_genes={min_genes} genes in `adata` ({details}). "
            "Check that var_names are gene symbols of the same species, lower `min_genes`, or drop these sets."
        )
    return {str(state): [int(found[state]), int(listed[state])] for state in listed.index}


def _check_scored(scores: pd.DataFrame, method: str) -> None:
    """Never write a NaN score silently."""
    unscored = scores.columns[scores.isna().all(axis=0).to_numpy()]
    if len(unscored) and len(scores):
        raise ValueError(
            f"method={method!r} gave no score to the gene set(s) {preview(unscored, 5)}: too few of their genes vary "
            "across the cells (`min_genes` are needed). Lower `min_genes`, score more cells, or use method='ssgsea'."
        )
    missing = scores.isna().any(axis=1).to_numpy()
    if missing.any():
        raise ValueError(
            f"method={method!r} gave no score (NaN) to {int(missing.sum())} cells (e.g. "
            f"{preview(scores.index[missing], 5)}). Check these cells' expression (constant or empty cells), "
            "or use method='ssgsea'."
        )


def _categories(
    states: pd.Index,
    categories: dict[str, str],
    effective: Sequence[str] | None,
    ineffective: Sequence[str] | None,
) -> tuple[list[str], list[str]] | None:
    """States forming the effective and ineffective scores, or ``None`` when one side is empty."""
    if not categories:
        categories = state_markers().drop_duplicates("state").set_index("state")["category"].to_dict()
    chosen = []
    for given, label in ((effective, EFFECTIVE), (ineffective, INEFFECTIVE)):
        names = list(given) if given is not None else [s for s in states if categories.get(s) == label]
        missing = [s for s in names if s not in states]
        if missing:
            raise ValueError(f"{label.capitalize()} state(s) {preview(missing)} are not among the scored sets.")
        chosen.append(names)
    if not chosen[0] or not chosen[1]:
        warnings.warn(
            "No effective or no ineffective states among the gene sets: only the state scores are written. "
            "Pass `effective=` and `ineffective=` (or a `category` column) to get the resistance index.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return chosen[0], chosen[1]


def _parent_states(
    groups: tuple[list[str], list[str]], parents: dict[str, str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The states of each side, state -> its sets (a set without a parent is a state of its own)."""
    sides = []
    for sets in groups:
        states: dict[str, list[str]] = {}
        for name in sets:
            states.setdefault(parents.get(name, name), []).append(name)
        sides.append(states)
    both = sorted(set(sides[0]) & set(sides[1]))
    if both:
        raise ValueError(
            f"State(s) {preview(both)} hold both effective and ineffective sets; give every set of one "
            f"`{PARENT_KEY}` the same category, or choose `effective=` / `ineffective=` accordingly."
        )
    return sides[0], sides[1]


def _zscore(scores: pd.DataFrame) -> pd.DataFrame:
    sd = scores.std(axis=0, ddof=0).replace(0.0, 1.0)
    return (scores - scores.mean(axis=0)) / sd


def _write_index(
    adata: AnnData, scores: pd.DataFrame, effective: dict[str, list[str]], ineffective: dict[str, list[str]]
) -> None:
    """Effective and ineffective scores (mean over states of the mean z-score of each state's sets), RI, call."""
    z = _zscore(scores)
    good = _mean_of_states(z, effective)
    bad = _mean_of_states(z, ineffective)
    index = bad - good
    adata.obs[EFFECTIVE_SCORE_KEY] = good
    adata.obs[INEFFECTIVE_SCORE_KEY] = bad
    adata.obs[RESISTANCE_INDEX_KEY] = index
    calls = np.where(index <= 0, STATE_CALLS[0], STATE_CALLS[1])
    adata.obs[STATE_CALL_KEY] = pd.Categorical(calls, categories=list(STATE_CALLS))


def _mean_of_states(z: pd.DataFrame, states: dict[str, list[str]]) -> np.ndarray:
    return np.mean([z[sets].to_numpy().mean(axis=1) for sets in states.values()], axis=0)
