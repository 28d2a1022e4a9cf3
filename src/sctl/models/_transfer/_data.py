"""Data of the transfer models: bulk lines and cells aligned, standardised per domain, labelled and stacked.

:func:`transfer_data` builds the input of :class:`~sctl.models.PathwayTransfer` and :class:`~sctl.models.ATSDPNet`
:cite:p:`he2025transfer,zhou2025atsdpnet`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl import pp
from sctl._constants import LABEL_KEY, MIN_SHARED_GENES, RESPONSE_CATEGORIES, SENSITIVE
from sctl._docs import doc_params
from sctl._stream import Rows, column_mean_std, zscore_block, zscore_params, zscore_rows
from sctl._validate import check_anndata, check_obs_key, float_dtype, get_matrix, preview, to_dense

logger = logging.getLogger(__name__)

DOMAIN_KEY = "sctl_domain"
BULK, CELLS = "bulk", "cells"
TRANSFER_KEY = "sctl_transfer"
#: fewest labelled lines of each class a transfer model is trained on
MIN_PER_CLASS = 5
# numeric columns written by a transfer model's ``setup_anndata`` (scvi-tools registers numbers, not labels with NaN)
_DOMAIN_CODE = "_sctl_domain_code"
_TARGET = "_sctl_target"


@doc_params()
def transfer_data(
    bulk: AnnData,
    cells: AnnData,
    drug: str,
    *,
    key: str = "ln_ic50",
    label_method: str = "extremes",
    k: float = 0.3,
    label_threshold: float | None = None,
    layer: str | None = None,
    bulk_layer: str | None = None,
    genes: list[str] | pd.Index | None = None,
    min_shared: float | int = MIN_SHARED_GENES,
    standardize_rows: bool = True,
    n_top_genes: int | None = None,
    cell_label_key: str | None = None,
    balance: str | None = None,
    min_per_class: int = MIN_PER_CLASS,
    seed: int = 0,
) -> AnnData:
    """Join labelled bulk cell lines and unlabelled cells into one AnnData for a transfer model.

    The steps, as in :cite:t:`he2025transfer` and :cite:t:`zhou2025atsdpnet`:

    1. restrict both to their shared genes, in bulk order (:func:`sctl.pp.align_genes`), optionally to ``genes``
       first (e.g. the L1000 landmark genes ``bulk.var_names[bulk.var["landmark"]]``), optionally then to the
       ``n_top_genes`` most variable of them across the cells (labels play no part);
    2. z-score every profile across the shared genes (``standardize_rows``), as the shipped GDSC expression
       is: a cell's overall level and spread follow its library size and detection rate, a direction the bulk
       lines never vary along; then z-score every gene within EACH domain on its own
       (:func:`sctl.pp.standardize`), so the inputs may be log-normalised, scaled or (less advisable) counts:
       nothing assumes counts and neither domain needs the other's scale;
    3. label the lines sensitive / resistant from ``bulk.obsm[key][drug]`` (:func:`sctl.pp.binarize_response`;
       by default the lowest 30 % sensitive and the highest 30 % resistant, the rest unlabelled);
    4. stack bulk over cells. The cells' labels are NaN: labels the cells carry are never used, unless
       ``cell_label_key`` opts into semi-supervised training.

    Parameters
    ----------
    bulk
        Cell lines x genes with the response table ``bulk.obsm[key]`` (e.g. :func:`sctl.datasets.gdsc`).
    cells
        Cells x genes (log-normalised ``X`` by default). Not modified.
    drug
        Column of ``bulk.obsm[key]``.
    key
        Response table, ``"ln_ic50"`` or ``"auc"`` (low = sensitive for both).
    label_method, k, label_threshold
        Label rule, passed to :func:`sctl.pp.binarize_response` as ``method``, ``k`` and ``threshold``.
    layer, bulk_layer
        Layers holding the expression of ``cells`` and ``bulk`` (``None``: ``X``).
    genes
        Genes to keep before aligning (``None``: all).
    min_shared
        Fewest shared genes accepted, a count (int, default 500) or a fraction of the bulk genes (float);
        see :func:`sctl.pp.align_genes`.
    standardize_rows
        Z-score each profile across the shared genes before the per-gene z-score (step 2). A model trained on
        the result does the same to the cells it predicts. ``False`` is the papers' preprocessing.
    n_top_genes
        Keep the ``n_top_genes`` shared genes of highest normalised dispersion across the cells (scanpy's
        ``"seurat"`` flavour on log-normalised cells; the variance when the cells hold negative values).
        Computed on the cells only, which carry no label here. ``None``: every shared gene.
    cell_label_key
        SEMI-SUPERVISED opt-in: a column of ``cells.obs`` with ``"sensitive"`` / ``"resistant"`` (NaN allowed)
        whose labels are kept. ``None`` (default): the cells are unlabelled.
    balance
        ``None``, ``"smote"`` or ``"oversample"``: recorded in ``uns`` and applied by the model's ``train``
        (:meth:`TransferModel.train`) to the labelled TRAINING lines only, after the validation lines are held
        out, so that no copy or interpolant of a training line reaches the early-stopping set.
    min_per_class
        Fewest labelled lines of each class; fewer raise a :class:`ValueError`.
    seed
        Recorded (the balancing is seeded by the model's ``train``).

    Returns
    -------
    Lines and cells x shared genes: ``X`` dense ``float32`` (z-scored per domain); ``obs["sctl_domain"]``
    (``"bulk"`` / ``"cells"``), ``obs["sctl_label"]`` (categorical, NaN on cells), ``obs["sctl_source"]`` (the
    original obs name); ``uns["sctl_transfer"]["params"]`` records the label rule and the counts.

    Examples
    --------
    {bulk_without_tumor_lines}
    >>> data = sctl.models.transfer_data(bulk, cells, "Dabrafenib")
    >>> data.obs["sctl_domain"].value_counts().to_dict()  # doctest: +SKIP
    {'bulk': 903, 'cells': 200}
    """
    check_anndata(bulk, "bulk")
    check_anndata(cells, "cells")
    if balance not in (None, "smote", "oversample"):
        raise ValueError(f"`balance` must be None, 'smote' or 'oversample', got {balance!r}.")
    bulk, cells, hvg_method = aligned_domains(
        bulk, cells, genes, min_shared, n_top_genes, layers=(bulk_layer, layer), standardize_rows=standardize_rows
    )
    pp.binarize_response(bulk, drug, key=key, method=label_method, k=k, threshold=label_threshold)
    label_params = bulk.uns[LABEL_KEY]["params"]
    _check_enough_labels(bulk.obs[LABEL_KEY], drug, min_per_class)
    cell_labels = _cell_labels(cells, cell_label_key)
    combined = _stack(bulk, cells, cell_labels)
    counts = combined.obs.groupby([DOMAIN_KEY, LABEL_KEY], observed=False).size()
    combined.uns[TRANSFER_KEY] = {
        "params": {
            "drug": drug,
            "key": key,
            "label_rule": {"method": label_method, "k": k, "threshold": label_threshold},
            "layer": layer,
            "bulk_layer": bulk_layer,
            "standardization": standardization(standardize_rows),
            "standardize_rows": standardize_rows,
            "n_top_genes": n_top_genes,
            "highly_variable": hvg_method,
            "cell_label_key": cell_label_key,
            "balance": balance,
            "seed": seed,
        },
        "label_cutoffs": {k_: label_params.get(k_) for k_ in ("sensitive_cutoff", "resistant_cutoff")},
        "counts": {f"{d}_{lab}": int(n) for (d, lab), n in counts.items()},
        "n_genes": int(combined.n_vars),
    }
    return combined


def aligned_domains(
    bulk: AnnData,
    cells: AnnData,
    genes: Sequence[str] | pd.Index | None,
    min_shared: float | int,
    n_top_genes: int | None,
    *,
    layers: tuple[str | None, str | None],
    standardize_rows: bool,
) -> tuple[AnnData, AnnData, str | None]:
    """Bulk and cells on their shared genes, standardised per domain: the data preparation of the transfer models.

    The genes are those of ``genes`` (all when ``None``) shared by both (:func:`sctl.pp.align_genes`, at least
    ``min_shared``), then the ``n_top_genes`` most variable across the cells (:func:`highly_variable_genes`; all
    when ``None``); each domain is standardised on its own (:func:`standardize_domains`, ``layers`` of
    ``(bulk, cells)``). Returns the two, and how the variable genes were ranked (``None`` without ``n_top_genes``).
    """
    if genes is not None:
        chosen = bulk[:, bulk.var_names.isin(pd.Index(genes))]
        if chosen.n_vars == 0:
            raise ValueError(
                f"None of the {len(genes)} `genes` is among the reference genes ({preview(bulk.var_names, 3)})."
            )
        bulk = chosen
    bulk, cells = pp.align_genes(bulk, cells, min_shared=min_shared)
    hvg_method = None
    if n_top_genes is not None:
        keep, hvg_method = highly_variable_genes(cells, layers[1], n_top_genes)
        bulk, cells = bulk[:, keep].copy(), cells[:, keep].copy()
    standardize_domains(bulk, cells, layers=layers, standardize_rows=standardize_rows)
    return bulk, cells, hvg_method


def highly_variable_genes(cells: AnnData, layer: str | None, n_top_genes: int) -> tuple[pd.Index, str]:
    """The ``n_top_genes`` most variable genes of ``cells`` (in their order) and how they were ranked.

    Log-normalised cells (no negative value) are ranked by scanpy's ``"seurat"`` normalised dispersion, other
    input by its variance. No label is read.
    """
    if isinstance(n_top_genes, bool) or not isinstance(n_top_genes, int | np.integer) or n_top_genes < 1:
        raise ValueError(f"`n_top_genes` must be a positive integer or None, got {n_top_genes!r}.")
    if n_top_genes >= cells.n_vars:
        logger.info("n_top_genes=%d >= the %d shared genes: every gene is kept", n_top_genes, cells.n_vars)
        return cells.var_names, f"all {cells.n_vars} shared genes (n_top_genes >= their number)"
    X = to_dense(get_matrix(cells, layer), np.float32)
    if X.min() >= 0:
        import scanpy as sc

        table = sc.pp.highly_variable_genes(AnnData(X), flavor="seurat", inplace=False)
        score = table["dispersions_norm"].to_numpy(dtype=np.float64)
        method = "seurat normalised dispersion across the cells"
    else:
        score = X.var(axis=0, dtype=np.float64)
        method = "variance across the cells"
    order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")[:n_top_genes]
    return cells.var_names[np.sort(order)], method


def standardize_domains(
    bulk: AnnData, cells: AnnData, *, layers: tuple[str | None, str | None], standardize_rows: bool
) -> None:
    """Standardise gene-aligned copies of bulk and cells in place, each domain on its own (into ``X``).

    With ``standardize_rows`` every profile is first z-scored across the shared genes; then every gene is
    z-scored within its domain (:func:`sctl.pp.standardize`). ``layers`` are those of ``(bulk, cells)``.
    """
    for adata, layer in zip((bulk, cells), layers, strict=True):
        standardize_domain(adata, layer, standardize_rows)


def standardize_domain(adata: AnnData, layer: str | None, standardize_rows: bool) -> None:
    """One domain of :func:`standardize_domains`: its profiles z-scored (optionally), then its genes, into ``X``."""
    if standardize_rows:
        X = get_matrix(adata, layer)
        adata.X = zscore_rows(to_dense(X, float_dtype(X)))
    pp.standardize(adata, layer=None if standardize_rows else layer)


def standardization(standardize_rows: bool) -> str:
    """How :func:`standardize_domains` standardised, in words (recorded in ``uns``)."""
    gene_wise = "per-gene z-score, each domain on its own"
    return f"per-profile z-score across the shared genes, then {gene_wise}" if standardize_rows else gene_wise


def _check_enough_labels(
    labels: pd.Series, drug: str, min_per_class: int = MIN_PER_CLASS, *, response: pd.Series | None = None
) -> None:
    """Refuse labels with fewer than ``min_per_class`` lines of a class, or classes tied in ``response``.

    The one check behind every method of :func:`sctl.tl.predict_response` (baselines and transfer models alike).
    With ``response`` (each line's response, aligned with ``labels``), a sensitive line whose response is not
    below every resistant line's means the rule split tied lines by their order (e.g. a constant response).
    """
    counts = labels.value_counts()
    found = {c: int(counts.get(c, 0)) for c in RESPONSE_CATEGORIES}
    if min(found.values()) < min_per_class:
        raise ValueError(
            f"Drug {drug!r} leaves too few labelled lines to train on ({found}; at least {min_per_class} of each "
            "class are needed). Use a drug tested on more lines, a wider rule (`k=0.5` or "
            "`label_method='median'`), or a larger reference."
        )
    if response is None:
        return
    values = pd.Series(response, index=labels.index, dtype=float)
    highest_sensitive = values[labels == SENSITIVE].max()
    lowest_resistant = values[labels == RESPONSE_CATEGORIES[0]].min()
    if not highest_sensitive < lowest_resistant:
        raise ValueError(
            f"The response to {drug!r} does not separate the labelled lines ({found}): the highest response "
            f"labelled sensitive ({highest_sensitive:.4g}) is not below the lowest labelled resistant "
            f"({lowest_resistant:.4g}), so tied lines were split by their order (a constant or coarse response). "
            "Use another drug, response table (`key=`) or label rule."
        )


def _cell_labels(cells: AnnData, cell_label_key: str | None) -> np.ndarray:
    if cell_label_key is None:
        return np.full(cells.n_obs, np.nan, dtype=object)
    labels = check_obs_key(cells, cell_label_key).astype(object)
    bad = labels.dropna()[~labels.dropna().isin(RESPONSE_CATEGORIES)].unique()
    if len(bad):
        raise ValueError(
            f"`cells.obs[{cell_label_key!r}]` holds values other than {RESPONSE_CATEGORIES} and NaN "
            f"(e.g. {preview(bad, 5)}). Map them to 'sensitive' / 'resistant' first."
        )
    return labels.to_numpy()


def _stack(bulk: AnnData, cells: AnnData, cell_labels: np.ndarray) -> AnnData:
    X = np.vstack([to_dense(bulk.X), to_dense(cells.X)])
    labels = np.concatenate([bulk.obs[LABEL_KEY].astype(object).to_numpy(), cell_labels])
    names = [f"{BULK}:{n}" for n in bulk.obs_names] + [f"{CELLS}:{n}" for n in cells.obs_names]
    obs = pd.DataFrame(
        {
            DOMAIN_KEY: pd.Categorical([BULK] * bulk.n_obs + [CELLS] * cells.n_obs, categories=[BULK, CELLS]),
            LABEL_KEY: pd.Categorical(labels, categories=list(RESPONSE_CATEGORIES)),
            "sctl_source": np.r_[bulk.obs_names.to_numpy(dtype=object), cells.obs_names.to_numpy(dtype=object)],
        },
        index=pd.Index(names),
    )
    return AnnData(X, obs=obs, var=pd.DataFrame(index=bulk.var_names.copy()))


def standardize_matrix(X: np.ndarray) -> np.ndarray:
    """Z-score the columns of ``X`` on ``X`` itself, as :func:`sctl.pp.standardize` (constant genes become 0)."""
    rows = Rows(X)
    center, scale = zscore_params(*column_mean_std(rows, max(rows.n_obs, 1)))
    return zscore_block(X, center, scale)  # float32 throughout: no float64 copy of the whole matrix
