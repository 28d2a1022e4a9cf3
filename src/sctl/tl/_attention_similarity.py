"""Do drugs with the same mechanism of action get similar CSG²A gene-gene attention maps? (CSG²A, App. C.3.1)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy.stats import rankdata

from sctl._constants import DRUGS_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata, preview
from sctl.tl._drug_smiles import drug_smiles

ATTENTION_SIMILARITY_KEY = "sctl_attention_similarity"
MOA_COLUMN = "pathway"


@doc_params()
def attention_similarity(
    adata: AnnData,
    model: Any,
    drugs: Sequence[str] | Mapping[str, str],
    *,
    moa: str | Mapping[str, str] | pd.Series | None = None,
    dose: float | None = None,
    time: float | None = None,
    layer: str | None = None,
    stage: Literal["pretrained", "finetuned"] = "pretrained",
    include_prior: bool = True,
    method: Literal["pearson", "spearman"] = "pearson",
    n_perms: int = 1000,
    seed: int = 0,
    key_added: str = ATTENTION_SIMILARITY_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Correlate the CSG²A attention maps of drugs and test whether drugs of one mechanism of action agree more.

    CSG²A :cite:p:`bang2025csg2a{section 4.3 and appendix C.3.1}` reads its gene-gene attention maps as a
    fingerprint of a drug's mechanism: maps of drugs sharing a mechanism of action (MoA) correlate more (mean
    Pearson r 0.338 within classes vs 0.169 between on GDSC). This verb repeats that analysis for any model and
    drugs:

    1. each drug's map is :meth:`sctl.models.CSG2A.get_attention` at (``dose``, ``time``), averaged over the
       basal profiles of ``adata`` (the paper averages over a drug's test samples);
    2. every pair of drugs is compared by the correlation of their maps' off-diagonal entries (``method``);
    3. the pairs are split into same-MoA (within) and different-MoA (between) pairs; the statistic is the mean
       correlation within minus the mean between, and its one-sided p-value comes from ``n_perms`` seeded
       permutations of the MoA labels over the drugs, ``(1 + #{perm >= observed}) / (1 + n_perms)``. Permuting
       drugs, not pairs, respects that the pairs of one drug are not independent; with few drugs the number of
       distinct relabellings, hence the smallest reachable p-value, is limited.

    Parameters
    ----------
    adata
        Basal profiles whose maps are averaged (e.g. the control profiles of some cell lines), with the model's
        genes. The results are written into its ``.uns``.
    model
        A trained :class:`sctl.models.CSG2A`, or a :class:`sctl.models.CSG2AIC50` for ``stage="finetuned"``
        (anything with ``get_attention(adata, smiles=, dose=, time=, layer=)``).
    drugs
        Drug names known to the model or to ``adata.uns["sctl_drugs"]``, or a mapping drug name -> SMILES.
        Drugs with the same SMILES share one map (computed once).
    moa
        Mechanism of action of every drug: a mapping (or Series) drug name -> MoA; or the name of a column of
        ``adata.uns["sctl_drugs"]`` or, when ``adata`` has none, of the GDSC drug annotation shipped with sctl
        (:func:`sctl.datasets.gdsc`, matched on the GDSC name or the L1000 name, case-insensitively);
        ``None``: the column ``"pathway"`` (GDSC's ``TARGET_PATHWAY``).
    dose, time
        Condition of the maps: dose (µM) and time (hours); ``None``: 10 µM and 24 h with
        ``stage="pretrained"``, the fine-tuning condition (10 µM, 72 h in the paper) with ``"finetuned"``.
    layer
        Layer with the basal profiles (``None``: the model's default).
    stage
        ``"pretrained"`` or ``"finetuned"``: how the profiles are scaled (see
        :meth:`sctl.models.CSG2A.get_attention`); the paper reads its maps from GDSC samples after fine-tuning.
    include_prior
        Include the drug-independent PPI term in the maps (``False``: the attention scores alone).
    method
        ``"pearson"`` (as the paper) or ``"spearman"`` correlation of the maps.
    n_perms
        Permutations of the MoA labels.
    seed
        Seed of the permutations.
    key_added
        Results go to ``adata.uns[key_added]``.
    {copy}

    {returns_copy}
    Sets ``adata.uns[key_added]``, a dict with

    ``params``
        the arguments (SMILES included);
    ``correlation``
        DataFrame drug x drug of the map correlations (symmetric, diagonal 1);
    ``moa``
        DataFrame drug -> ``moa``;
    ``pairs``
        DataFrame of every pair of drugs: ``drug_a``, ``drug_b``, ``moa_a``, ``moa_b``, ``same_moa``,
        ``correlation``;
    ``test``
        dict with ``within_mean``, ``between_mean``, ``difference`` (within minus between), ``median_difference``,
        ``pvalue``, ``n_within``, ``n_between`` (NaN statistics, with a warning, when no MoA holds two drugs or
        every drug shares one MoA).

    Examples
    --------
    >>> model = sctl.models.CSG2A(plate).train(max_epochs=50)  # doctest: +SKIP
    >>> drugs = ["trametinib", "PD-0325901", "PLX-4720", "buparlisib", "NVP-BEZ235"]
    >>> sctl.tl.attention_similarity(plate[:20], model, drugs, dose=1.0)  # doctest: +SKIP
    >>> plate.uns["sctl_attention_similarity"]["test"]["pvalue"]  # doctest: +SKIP
    """
    check_anndata(adata)
    if not hasattr(model, "get_attention"):
        raise TypeError(f"`model` must be a CSG2A model with `get_attention`, got {type(model).__name__}.")
    if method not in ("pearson", "spearman"):
        raise ValueError(f"`method` must be 'pearson' or 'spearman', got {method!r}.")
    if n_perms < 1:
        raise ValueError(f"`n_perms` must be at least 1, got {n_perms}.")
    smiles = drug_smiles(adata, model, drugs)
    if len(smiles) < 2:
        raise ValueError(f"Name at least two drugs to compare their maps, got {len(smiles)}.")
    labels = _moa(adata, list(smiles), moa)
    if stage == "pretrained":
        dose, time = 10.0 if dose is None else dose, 24.0 if time is None else time
    condition = {"dose": dose, "time": time, "layer": layer}
    if stage != "pretrained" or not include_prior:  # models with only `get_attention(smiles=, dose=, time=, layer=)`
        condition.update(stage=stage, include_prior=include_prior)
    maps: dict[str, pd.DataFrame] = {}
    for code in dict.fromkeys(smiles.values()):
        maps[code] = model.get_attention(adata, smiles=code, **condition)
    corr = map_correlation({name: maps[code] for name, code in smiles.items()}, method=method)
    pairs = _pairs(corr, labels)
    test = _within_between(corr.to_numpy(), labels.to_numpy(), n_perms, np.random.default_rng(seed))

    adata = adata.copy() if copy else adata
    adata.uns[key_added] = {
        "params": {
            "model": type(model).__name__,
            "preset": getattr(model, "init_params_", {}).get("preset"),
            "drugs": list(smiles),
            "smiles": list(smiles.values()),
            "moa": moa if isinstance(moa, str) else (MOA_COLUMN if moa is None else "mapping"),
            "dose": None if dose is None else float(dose),
            "time": None if time is None else float(time),
            "layer": layer,
            "stage": stage,
            "include_prior": include_prior,
            "method": method,
            "n_perms": int(n_perms),
            "seed": int(seed),
        },
        "correlation": corr,
        "moa": labels.to_frame("moa"),
        "pairs": pairs,
        "test": test,
    }
    return adata if copy else None


def map_correlation(maps: Mapping[str, pd.DataFrame], method: str = "pearson") -> pd.DataFrame:
    """Correlation (drug x drug) of the off-diagonal entries of gene x gene maps; NaN for a constant map."""
    names = list(maps)
    first = next(iter(maps.values()))
    n = len(first)
    off = ~np.eye(n, dtype=bool)
    flat = np.vstack([np.asarray(maps[name].to_numpy(), dtype=np.float64)[off] for name in names])
    if method == "spearman":
        flat = np.vstack([rankdata(row) for row in flat])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(flat) if len(names) > 1 else np.ones((1, 1))
    corr = (corr + corr.T) / 2  # exact symmetry
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=names, columns=names)


def _moa(adata: AnnData, drugs: list[str], moa: str | Mapping[str, str] | pd.Series | None) -> pd.Series:
    """MoA label of every drug, in the order of ``drugs``."""
    if isinstance(moa, Mapping | pd.Series):
        table = {str(k): v for k, v in dict(moa).items()}
        source = "`moa`"
    else:
        column = MOA_COLUMN if moa is None else moa
        table, source = _annotation_column(adata, column)
        lower = {str(k).lower(): v for k, v in table.items()}
        table = {**lower, **table}
        table = {d: table.get(d, table.get(d.lower())) for d in drugs}
    labels = pd.Series({d: table.get(d) for d in drugs}, dtype=object)
    missing = [d for d in drugs if labels[d] is None or pd.isna(labels[d])]
    if missing:
        raise KeyError(
            f"No mechanism of action for {preview(missing)} in {source}. Pass `moa=` as a mapping drug name -> "
            "MoA covering every drug (or drop these drugs)."
        )
    return labels.astype(str).rename("moa")


def _annotation_column(adata: AnnData, column: str) -> tuple[dict[str, Any], str]:
    """Drug -> value of ``column`` from ``adata.uns["sctl_drugs"]``, else from the shipped GDSC annotation."""
    table = adata.uns.get(DRUGS_KEY)
    if isinstance(table, pd.DataFrame) and column in table.columns:
        return {str(k): v for k, v in table[column].dropna().items()}, f'`adata.uns["{DRUGS_KEY}"][{column!r}]`'
    from sctl.datasets import gdsc

    shipped = gdsc().uns[DRUGS_KEY]
    if column not in shipped.columns:
        raise KeyError(
            f"`moa={column!r}` is not a column of `adata.uns[{DRUGS_KEY!r}]` nor of the shipped GDSC drug "
            f"annotation (columns: {preview(shipped.columns)}). Pass `moa=` as a mapping drug name -> MoA."
        )
    values = shipped[column].dropna()
    mapping = {str(k).lower(): v for k, v in values.items()}
    if "lincs_name" in shipped.columns:
        names = shipped.loc[values.index, "lincs_name"].dropna()
        mapping.update({str(name).lower(): values[drug] for drug, name in names.items()})
    return mapping, f"the shipped GDSC drug annotation (`sctl.datasets.gdsc().uns[{DRUGS_KEY!r}][{column!r}]`)"


def _pairs(corr: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    names = list(corr.index)
    upper = np.triu_indices(len(names), k=1)
    moa = labels.reindex(names).to_numpy()
    return pd.DataFrame(
        {
            "drug_a": [names[i] for i in upper[0]],
            "drug_b": [names[j] for j in upper[1]],
            "moa_a": moa[upper[0]],
            "moa_b": moa[upper[1]],
            "same_moa": moa[upper[0]] == moa[upper[1]],
            "correlation": corr.to_numpy()[upper],
        }
    )


def _within_between(corr: np.ndarray, labels: np.ndarray, n_perms: int, rng: np.random.Generator) -> dict:
    """Mean correlation of same-MoA pairs minus different-MoA pairs, with a label-permutation p-value."""
    upper = np.triu_indices(len(labels), k=1)
    values = corr[upper]
    codes = pd.factorize(labels)[0]

    def split(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        same = codes[upper[0]] == codes[upper[1]]
        return values[same], values[~same]

    within, between = split(codes)
    result = {"n_within": len(within), "n_between": len(between)}
    if not len(within) or not len(between):
        warnings.warn(
            "The within / between MoA test needs at least one MoA with two drugs and at least two MoAs; "
            f"got {len(within)} same-MoA and {len(between)} different-MoA pairs. Its statistics are NaN.",
            UserWarning,
            stacklevel=3,
        )
        nan = float("nan")
        return {
            **result,
            "within_mean": nan,
            "between_mean": nan,
            "difference": nan,
            "median_difference": nan,
            "pvalue": nan,
        }
    finite = np.isfinite(values)
    if not finite.all():
        warnings.warn(
            f"{int((~finite).sum())} pairs of drugs have an undefined correlation (a constant map) and are left out "
            "of the test.",
            UserWarning,
            stacklevel=3,
        )

    def difference(codes: np.ndarray) -> float:
        a, b = split(codes)
        return float(np.nanmean(a) - np.nanmean(b))

    observed = difference(codes)
    permuted = np.array([difference(rng.permutation(codes)) for _ in range(n_perms)])
    return {
        **result,
        "within_mean": float(np.nanmean(within)),
        "between_mean": float(np.nanmean(between)),
        "difference": observed,
        "median_difference": float(np.nanmedian(within) - np.nanmedian(between)),
        "pvalue": float((1 + np.sum(permuted >= observed - 1e-12)) / (1 + n_perms)),
    }


def attention_genes(attention: pd.DataFrame, n_pairs: int = 1000) -> pd.Index:
    """Genes of the ``n_pairs`` gene pairs of largest absolute attention: the paper's "most-perturbed gene set".

    CSG²A :cite:p:`bang2025csg2a{appendix A.6}` averages a drug's attention maps over its samples, takes the 1,000
    largest absolute gene-gene values and keeps every gene of those pairs for enrichment analysis. Here a pair is
    two different genes, scored by the larger of ``|A_ij|`` and ``|A_ji|`` (sctl: the paper does not say how it
    treats the diagonal and the two orders of a pair).

    Parameters
    ----------
    attention
        A genes x genes map, e.g. of :meth:`sctl.models.CSG2A.get_attention` (``include_prior=False`` leaves out
        the drug-independent PPI term).
    n_pairs
        Pairs kept (1,000 in the paper).

    Returns
    -------
    The genes, in the order of their best pair.

    Examples
    --------
    >>> genes = ["a", "b", "c", "d"]
    >>> attention = pd.DataFrame(np.diag([9.0, 9, 9, 9]), index=genes, columns=genes)
    >>> attention.loc["a", "c"] = attention.loc["c", "a"] = -5.0
    >>> attention.loc["b", "d"] = 1.0
    >>> list(attention_genes(attention, n_pairs=1))
    ['a', 'c']
    """
    if not isinstance(attention, pd.DataFrame) or attention.shape[0] != attention.shape[1]:
        raise ValueError("`attention` must be a square genes x genes DataFrame (e.g. from `model.get_attention`).")
    if not list(attention.index) == list(attention.columns):
        raise ValueError("`attention` must have the same genes, in the same order, as rows and columns.")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 1:
        raise ValueError(f"`n_pairs` must be a positive integer, got {n_pairs!r}.")
    values = np.abs(attention.to_numpy(np.float64))
    rows, cols = np.triu_indices(len(values), k=1)
    scores = np.maximum(values[rows, cols], values[cols, rows])
    order = np.argsort(-scores, kind="stable")[:n_pairs]
    genes = np.column_stack([rows[order], cols[order]]).ravel()
    return pd.Index(attention.index[pd.unique(genes)])
