"""Bulk-to-single-cell transfer: one AnnData of both domains, and the surface shared by the transfer models.

:func:`transfer_data` builds the input of :class:`~sctl.models.PathwayTransfer` and :class:`~sctl.models.ATSDPNet`
(He et al. 2025, Int. J. Mol. Sci. 26:4365; Zhou et al. 2025, Front. Med. 12:1631898). :class:`TransferModel`
holds what both models share: registration with scvi-tools' :class:`~scvi.data.AnnDataManager`, a training loop
in phases through Lightning, prediction on a user's raw cells, and a pickle-free save / load.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.data import AnnDataManager
from scvi.data.fields import LayerField, NumericalObsField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from sklearn.exceptions import NotFittedError

from .. import pp
from .._constants import LABEL_KEY, MIN_SHARED_GENES, RESPONSE_CATEGORIES, SENSITIVE
from .._stream import (
    Rows,
    check_chunk_size,
    column_mean_std,
    iter_dense,
    map_rows,
    rows_of,
    zscore_block,
    zscore_params,
    zscore_rows,
)
from .._validate import (
    check_anndata,
    check_finite,
    check_obs_key,
    check_unique_var_names,
    check_var_names,
    float_dtype,
    get_matrix,
    preview,
    to_dense,
)
from ._io import load_model, load_state, save_model

logger = logging.getLogger(__name__)

DOMAIN_KEY = "sctl_domain"
BULK, CELLS = "bulk", "cells"
TRANSFER_KEY = "sctl_transfer"
#: fewest labelled lines of each class a transfer model is trained on
MIN_PER_CLASS = 5
# numeric columns written by ``setup_anndata`` (scvi-tools registers numbers, not labels with NaN)
_DOMAIN_CODE = "_sctl_domain_code"
_TARGET = "_sctl_target"
X_KEY, DOMAIN_REG, LABELS_REG = "X", "sctl_domain_code", "sctl_target"
#: rows read, densified and scored at a time by ``predict`` / ``get_latent_representation``
PREDICT_CHUNK = 4096


# --------------------------------------------------------------------------------------------- data preparation
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
    cell_label_key: str | None = None,
    balance: str | None = None,
    min_per_class: int = MIN_PER_CLASS,
    seed: int = 0,
) -> AnnData:
    """Join labelled bulk cell lines and unlabelled cells into one AnnData for a transfer model.

    The steps, as in He et al. 2025 and Zhou et al. 2025:

    1. restrict both to their shared genes, in bulk order (:func:`sctl.pp.align_genes`), optionally to ``genes``
       first (e.g. the L1000 landmark genes ``bulk.var_names[bulk.var["landmark"]]``);
    2. z-score every profile across the shared genes (``standardize_rows``), as the shipped GDSC expression
       is: a cell's overall level and spread follow its library size and detection rate, a direction the bulk
       lines never vary along; then z-score every gene within EACH domain on its own
       (:func:`sctl.pp.standardize`), so the inputs may be log-normalised, scaled or (less advisable) counts:
       nothing assumes counts and neither domain needs the other's scale;
    3. label the lines sensitive / resistant from ``bulk.obsm[key][drug]`` (:func:`sctl.pp.binarize_response`;
       by default the lowest 30 % sensitive and the highest 30 % resistant, the rest unlabelled);
    4. optionally balance the labelled lines (``balance="smote"`` or ``"oversample"``, :func:`sctl.pp.balance`,
       as ATSDP-NET does; the bulk part then holds only labelled and synthetic lines);
    5. stack bulk over cells. The cells' labels are NaN: labels the cells carry are never used, unless
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
        the result does the same to the cells it predicts. On the realistic-shift benchmark
        (``benchmarks/realistic_shift.py``) it raised the transfer models' AUROC on one-line tumours; ``False``
        is the papers' preprocessing.
    cell_label_key
        SEMI-SUPERVISED opt-in: a column of ``cells.obs`` with ``"sensitive"`` / ``"resistant"`` (NaN allowed)
        whose labels are kept. ``None`` (default): the cells are unlabelled.
    balance
        ``None``, ``"smote"`` or ``"oversample"``: oversample the minority class of the labelled lines.
    min_per_class
        Fewest labelled lines of each class; fewer raise a :class:`ValueError`.
    seed
        Seed of the balancing.

    Returns
    -------
    Lines and cells x shared genes: ``X`` dense ``float32`` (z-scored per domain); ``obs["sctl_domain"]``
    (``"bulk"`` / ``"cells"``), ``obs["sctl_label"]`` (categorical, NaN on cells), ``obs["sctl_source"]`` (the
    original obs name); ``uns["sctl_transfer"]["params"]`` records the label rule and the counts.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> cells = sctl.datasets.tumor("Dabrafenib", n_cells=200)
    >>> bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])].copy()
    >>> data = sctl.models.transfer_data(bulk, cells, "Dabrafenib")
    >>> data.obs["sctl_domain"].value_counts().to_dict()  # doctest: +SKIP
    {'bulk': 903, 'cells': 200}
    """
    check_anndata(bulk, "bulk")
    check_anndata(cells, "cells")
    if balance not in (None, "smote", "oversample"):
        raise ValueError(f"`balance` must be None, 'smote' or 'oversample', got {balance!r}.")
    if genes is not None:
        bulk = bulk[:, bulk.var_names.isin(pd.Index(genes))]
        if bulk.n_vars == 0:
            raise ValueError(
                f"None of the {len(genes)} `genes` is among the bulk genes ({preview(bulk.var_names, 3)})."
            )
    bulk, cells = pp.align_genes(bulk, cells, min_shared=min_shared)
    standardize_domains(bulk, cells, layers=(bulk_layer, layer), standardize_rows=standardize_rows)
    pp.binarize_response(bulk, drug, key=key, method=label_method, k=k, threshold=label_threshold)
    label_params = bulk.uns[LABEL_KEY]["params"]
    _check_enough_labels(bulk.obs[LABEL_KEY], drug, min_per_class)
    if balance is not None:
        bulk = pp.balance(bulk, label_key=LABEL_KEY, method=balance, seed=seed)
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
            "cell_label_key": cell_label_key,
            "balance": balance,
            "seed": seed,
        },
        "label_cutoffs": {k_: label_params.get(k_) for k_ in ("sensitive_cutoff", "resistant_cutoff")},
        "counts": {f"{d}_{lab}": int(n) for (d, lab), n in counts.items()},
        "n_genes": int(combined.n_vars),
    }
    return combined


def standardize_domains(
    bulk: AnnData, cells: AnnData, *, layers: tuple[str | None, str | None], standardize_rows: bool
) -> None:
    """Standardise gene-aligned copies of bulk and cells in place, each domain on its own (into ``X``).

    With ``standardize_rows`` every profile is first z-scored across the shared genes; then every gene is
    z-scored within its domain (:func:`sctl.pp.standardize`). ``layers`` are those of ``(bulk, cells)``.
    """
    for adata, layer in zip((bulk, cells), layers, strict=True):
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


# ------------------------------------------------------------------------------------------------ model surface
def standardize_matrix(X: np.ndarray) -> np.ndarray:
    """Z-score the columns of ``X`` on ``X`` itself, as :func:`sctl.pp.standardize` (constant genes become 0)."""
    rows = Rows(X)
    center, scale = zscore_params(*column_mean_std(rows, max(rows.n_obs, 1)))
    return zscore_block(X, center, scale)  # float32 throughout: no float64 copy of the whole matrix


def _phase_history(history: dict | None, n_before: dict[str, int], check_val: int) -> pd.DataFrame:
    """One row per epoch of the phase just trained: the rows each logged series gained, by epoch.

    Series logged every epoch fill every row; validation metrics, logged every ``check_val`` epochs, land on the
    epochs Lightning validated at (``check_val - 1``, ``2 * check_val - 1``, ...), NaN in between.
    """
    new = {key: value.iloc[n_before.get(key, 0) :, 0].to_numpy() for key, value in (history or {}).items()}
    n_epochs = max((len(v) for v in new.values()), default=0)
    columns = {}
    for key, values in new.items():
        epochs = np.arange(len(values)) if len(values) == n_epochs else (np.arange(len(values)) + 1) * check_val - 1
        keep = epochs < n_epochs
        columns[key] = pd.Series(values[keep], index=epochs[keep], dtype=float)
    return pd.DataFrame(columns, index=pd.RangeIndex(n_epochs, name="epoch"))


class TransferModel(UnsupervisedTrainingMixin, BaseModelClass):
    """Base of the bulk-to-single-cell models: registration, phased training, prediction, safe save / load.

    Subclasses build ``self.module`` (with ``encode(x, domain)``, ``predict_logits(x, domain)`` and a
    ``loss(..., phase=...)``), list their training ``phases`` and the plan keyword arguments of each.
    """

    _phases: ClassVar[tuple[str, ...]] = ()
    _init_kwargs: dict[str, Any]

    def __init__(self, adata: AnnData) -> None:
        super().__init__(adata)
        params = adata.uns.get(TRANSFER_KEY, {}).get("params", {})
        #: whether the training rows were z-scored profile by profile (``transfer_data(standardize_rows=True)``),
        #: so that new cells must be too
        self.standardize_rows_ = bool(params.get("standardize_rows", False))

    # -------------------------------------------------------------- setup
    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        domain_key: str = DOMAIN_KEY,
        labels_key: str = LABEL_KEY,
        layer: str | None = None,
        bulk_value: str = BULK,
        **kwargs: Any,
    ) -> None:
        """Register the expression, the domain of each row and the bulk labels.

        Parameters
        ----------
        adata
            Output of :func:`sctl.models.transfer_data`, or any AnnData of bulk and cells, z-scored per domain.
            Two numeric columns are added to ``adata.obs`` (``_sctl_domain_code``, ``_sctl_target``), as
            scvi-tools adds its own ``_scvi_*`` keys.
        domain_key
            Column of ``adata.obs`` naming the domain of each row.
        labels_key
            Column of ``adata.obs`` with ``"sensitive"`` / ``"resistant"`` (NaN = unlabelled, e.g. every cell).
        layer
            Layer with the expression (``None``: ``X``).
        bulk_value
            Value of ``adata.obs[domain_key]`` marking bulk rows; every other value is a cell.
        **kwargs
            Passed to :meth:`scvi.data.AnnDataManager.register_fields`.
        """
        check_anndata(adata)
        check_finite(get_matrix(adata, layer), "the expression")  # before writing anything into `adata`
        cls._write_codes(adata, domain_key, labels_key, bulk_value)
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = [
            LayerField(X_KEY, layer, is_count_data=False),
            NumericalObsField(DOMAIN_REG, _DOMAIN_CODE),
            NumericalObsField(LABELS_REG, _TARGET),
        ]
        manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        manager.register_fields(adata, **kwargs)
        cls.register_manager(manager)

    @staticmethod
    def _write_codes(adata: AnnData, domain_key: str, labels_key: str, bulk_value: str) -> None:
        domain = check_obs_key(adata, domain_key, hint="Build the data with `sctl.models.transfer_data`.")
        labels = check_obs_key(adata, labels_key, hint="Label the bulk lines with `sctl.pp.binarize_response`.")
        is_cell = (domain.astype(str) != str(bulk_value)).to_numpy()
        if is_cell.all() or not is_cell.any():
            raise ValueError(
                f"`adata.obs[{domain_key!r}]` must mark both bulk rows ({bulk_value!r}) and cells; found only "
                f"{preview(domain.astype(str).unique(), 3)}."
            )
        text = labels.astype(object)
        target = np.where(text.isna(), np.nan, (text == SENSITIVE).astype(np.float64))
        if np.isnan(target[~is_cell]).all():
            raise ValueError(f"No bulk row has a label in `adata.obs[{labels_key!r}]`.")
        adata.obs[_DOMAIN_CODE] = is_cell.astype(np.float32)
        adata.obs[_TARGET] = target.astype(np.float32)

    @property
    def _setup_args(self) -> dict[str, Any]:
        return dict(self.adata_manager.registry["setup_args"])

    @property
    def var_names(self) -> pd.Index:
        """Genes of the model, in order."""
        return pd.Index(self.adata.var_names.astype(str))

    # -------------------------------------------------------------- train
    def _train_phases(
        self,
        epochs: dict[str, int],
        *,
        batch_size: int,
        train_size: float,
        early_stopping: bool,
        patience: int,
        accelerator: str,
        seed: int,
        plan_kwargs: dict[str, dict[str, Any]],
        trainer_kwargs: dict[str, Any],
    ) -> None:
        """Run each phase with Lightning; validation = a held-out share of the labelled bulk lines.

        ``trainer_kwargs`` go to Lightning's ``Trainer`` in every phase: ``devices`` (one by default), ``strategy``
        (e.g. ``"ddp_find_unused_parameters_true"`` on several GPUs; scvi-tools then shards each epoch with a
        distributed sampler), ``callbacks``, ``logger``, ``check_val_every_n_epoch``, ...
        """
        torch.manual_seed(seed)
        train_idx, val_idx = self._split(train_size, seed)
        trainer_kwargs.setdefault("enable_model_summary", False)
        trainer_kwargs.setdefault("enable_checkpointing", False)
        devices = trainer_kwargs.pop("devices", 1)
        check_val = trainer_kwargs.pop("check_val_every_n_epoch", 1)
        callbacks = trainer_kwargs.pop("callbacks", None) or []
        self.history_by_phase_: dict[str, pd.DataFrame] = {}
        for phase in self._phases:
            if epochs.get(phase, 0) <= 0:
                continue
            self.module.set_phase(phase)
            self.module.train()
            n_before = {key: len(value) for key, value in (self.history or {}).items()}
            stop = early_stopping and len(val_idx) > 0
            super().train(
                max_epochs=int(epochs[phase]),
                accelerator=accelerator,
                devices=devices,
                batch_size=batch_size,
                datasplitter_kwargs={"external_indexing": [train_idx, val_idx, np.array([], dtype=int)]},
                plan_kwargs={"phase": phase, **plan_kwargs.get(phase, {})},
                early_stopping=stop,
                early_stopping_monitor="validation_loss",
                early_stopping_patience=patience,
                check_val_every_n_epoch=check_val if len(val_idx) else None,
                **trainer_kwargs,
                # scvi-tools' Trainer appends its early-stopping callback to the list it is given: one list per phase
                callbacks=list(callbacks),
            )
            self.history_by_phase_[phase] = _phase_history(self.history, n_before, check_val)
        self.module.set_phase(None)
        self.module.eval()
        self.is_trained_ = True

    def _split(self, train_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Hold out ``1 - train_size`` of the labelled bulk lines; train on every other row."""
        if not 0 < train_size <= 1:
            raise ValueError(f"`train_size` must lie in (0, 1], got {train_size}.")
        obs = self.adata.obs
        labelled = np.flatnonzero(obs[_DOMAIN_CODE].to_numpy() == 0)
        labelled = labelled[~np.isnan(obs[_TARGET].to_numpy()[labelled])]
        rng = np.random.default_rng(seed)
        n_val = round((1 - train_size) * len(labelled))
        val = np.sort(rng.choice(labelled, size=n_val, replace=False)) if n_val else np.array([], dtype=int)
        train = np.setdiff1d(np.arange(self.adata.n_obs), val)
        return train, val

    # ------------------------------------------------------------ predict
    def _check_trained(self) -> None:
        if not getattr(self, "is_trained_", False):
            raise NotFittedError(f"This {type(self).__name__} is not trained yet: call .train() first.")

    def _input_rows(self, adata: AnnData | None, layer: str | None, standardize: bool) -> tuple[Rows, np.ndarray]:
        """The rows to predict (nothing read yet) and their domain codes (0 bulk, 1 cells).

        With ``standardize`` and a model trained on profile-wise z-scores, the user's rows are z-scored across the
        model's genes as they are read.
        """
        if adata is None:
            rows = rows_of(self.adata, self._setup_args["layer"])
            return rows, self.adata.obs[_DOMAIN_CODE].to_numpy(dtype=np.float32)
        check_anndata(adata)
        check_var_names(adata, self.var_names, what=f"this {type(self).__name__}")
        check_unique_var_names(adata)
        rows = rows_of(adata, layer, self.var_names)
        rows = replace(
            rows,
            what=f"the expression of `adata` ({rows.what})",
            standardize_rows=standardize and self.standardize_rows_,
        )
        return rows, np.ones(adata.n_obs, np.float32)

    def _stream(
        self,
        fn: Any,
        adata: AnnData | None,
        layer: str | None,
        standardize: bool,
        chunk_size: int,
    ) -> np.ndarray:
        """Apply ``fn(x, domain)`` to chunks of model-ready rows, read ``chunk_size`` at a time, and join them.

        With ``standardize`` (and a user's ``adata``) a first pass computes each gene's mean and standard
        deviation over all rows; the second standardises and scores one chunk at a time. Neither holds the
        whole matrix, so an AnnData opened with ``backed="r"`` is streamed from disk.
        """
        chunk_size = check_chunk_size(chunk_size)
        rows, domain = self._input_rows(adata, layer, standardize)
        center = scale = None
        if standardize and adata is not None:
            center, scale = zscore_params(*column_mean_std(rows, chunk_size))

        def score(start: int, block: np.ndarray) -> np.ndarray:
            if center is not None:
                block = zscore_block(block, center, scale)
            return self._batched(fn, block, domain[start : start + len(block)], batch_size=chunk_size)

        return map_rows(rows, score, chunk_size, np.float32)

    def _input_matrix(
        self, adata: AnnData | None, layer: str | None, standardize: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Model-ready rows and their domain codes (0 bulk, 1 cells), whole in memory (small data only)."""
        rows, domain = self._input_rows(adata, layer, standardize)
        X = np.zeros((rows.n_obs, rows.n_vars), dtype=np.float32)
        center = scale = None
        if standardize and adata is not None:
            center, scale = zscore_params(*column_mean_std(rows, PREDICT_CHUNK))
        for start, block in iter_dense(rows, PREDICT_CHUNK, np.float32):
            X[start : start + len(block)] = block if center is None else zscore_block(block, center, scale)
        return X, domain

    @torch.no_grad()
    def _batched(self, fn: Any, X: np.ndarray, domain: np.ndarray, batch_size: int = PREDICT_CHUNK) -> np.ndarray:
        self.module.eval()
        device = next(self.module.parameters()).device
        out = [
            fn(
                torch.as_tensor(X[i : i + batch_size], device=device),
                torch.as_tensor(domain[i : i + batch_size], device=device),
            )
            .cpu()
            .numpy()
            for i in range(0, len(X), batch_size)
        ]
        return np.concatenate(out) if out else np.empty((0,))

    def predict(
        self,
        adata: AnnData | None = None,
        *,
        layer: str | None = None,
        standardize: bool = True,
        chunk_size: int = PREDICT_CHUNK,
    ) -> np.ndarray:
        """Probability that each cell is sensitive. Writes nothing.

        Parameters
        ----------
        adata
            The user's cells x genes, raw as given to :func:`sctl.models.transfer_data` (log-normalised or
            scaled); it must hold every gene of the model (others are ignored). Its genes are z-scored on
            ``adata`` itself, the per-domain standardisation the model was trained with: so score a whole sample
            (hundreds of cells) at once, not one cell at a time. ``None``: every row of the training data,
            bulk rows through the bulk path. May be opened with ``anndata.read_h5ad(path, backed="r")``
            (dense or sparse): it is then streamed from disk, never loaded whole.
        layer
            Layer of ``adata`` with the expression (``None``: ``X``).
        standardize
            ``False`` when ``adata`` is already standardised as the model's training cells were (z-scored per
            gene, and per profile first for a model trained with ``transfer_data(standardize_rows=True)``).
        chunk_size
            Rows read, densified and scored at a time; bounds the memory to about ``chunk_size x n_genes``
            floats (twice that while standardising), whatever the number of cells.

        Returns
        -------
        Array of shape ``(n_obs,)`` in [0, 1].
        """
        self._check_trained()
        proba = self._stream(
            lambda x, d: torch.sigmoid(self.module.predict_logits(x, d)), adata, layer, standardize, chunk_size
        )
        return proba.astype(np.float64)

    def get_latent_representation(
        self,
        adata: AnnData | None = None,
        *,
        layer: str | None = None,
        standardize: bool = True,
        chunk_size: int = PREDICT_CHUNK,
    ) -> np.ndarray:
        """Embedding the classifier reads, one row per observation (same inputs as :meth:`predict`).

        Returns
        -------
        Array of shape ``(n_obs, n_latent)``.
        """
        self._check_trained()
        return self._stream(self.module.encode, adata, layer, standardize, chunk_size)

    # ---------------------------------------------------------- save/load
    def save(self, dir_path: str | Path, overwrite: bool = False, **kwargs: Any) -> None:
        """Save the weights (``model_state.pt``) and settings (``model.json``); no pickled objects.

        ``model.json`` also records the versions of sctl, scvi-tools and torch, checked by :meth:`load`.

        Parameters
        ----------
        dir_path
            Directory to write to.
        overwrite
            Replace a model already saved there.
        **kwargs
            Ignored (accepted for compatibility with scvi-tools).
        """
        self._check_trained()
        meta = {
            "init": self._init_kwargs,
            "setup": self._setup_args,
            "var_names": list(self.var_names),
            "standardize_rows": self.standardize_rows_,
            **self._extra_meta(),
        }
        save_model(dir_path, type(self).__name__, self.module.state_dict(), meta, overwrite=overwrite)

    def _extra_meta(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData | None = None, **kwargs: Any) -> Self:
        """Load a model saved by :meth:`save`; weights are read with ``torch.load(weights_only=True)``.

        A directory saved by another class, in a newer file format, or with missing or malformed files is refused;
        other versions of sctl, scvi-tools or torch than the saving ones give a :class:`UserWarning`.

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata
            Ignored unless given: then checked to hold the model's genes.
        **kwargs
            Ignored.

        Returns
        -------
        The trained model, bound to a small placeholder AnnData (prediction takes any AnnData).
        """
        meta, state = load_model(dir_path, cls.__name__, required=("init", "setup", "var_names"))
        placeholder = cls._placeholder(meta)
        setup = {k: v for k, v in meta["setup"].items() if k in ("domain_key", "labels_key", "layer", "bulk_value")}
        cls.setup_anndata(placeholder, **{**setup, **cls._extra_setup(meta)})
        model = cls(placeholder, **cls._init_from_meta(meta, state))
        load_state(model.module, state, dir_path, f"saved {cls.__name__}")
        model.standardize_rows_ = bool(meta.get("standardize_rows", False))  # absent: saved before the option
        model.is_trained_ = True
        if adata is not None:
            check_var_names(adata, model.var_names, what=f"the saved {cls.__name__}")
        return model

    @classmethod
    def _extra_setup(cls, meta: dict[str, Any]) -> dict[str, Any]:
        return {}

    @classmethod
    def _init_from_meta(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> dict[str, Any]:
        return dict(meta["init"])

    @classmethod
    def _placeholder(cls, meta: dict[str, Any]) -> AnnData:
        setup = meta["setup"]
        domain = [setup.get("bulk_value", BULK), CELLS, setup.get("bulk_value", BULK), CELLS]
        obs = pd.DataFrame(
            {
                setup["domain_key"]: domain,
                setup["labels_key"]: pd.Categorical(
                    [SENSITIVE, np.nan, "resistant", np.nan], categories=list(RESPONSE_CATEGORIES)
                ),
            },
            index=[f"placeholder{i}" for i in range(4)],
        )
        X = np.zeros((4, len(meta["var_names"])), dtype=np.float32)
        adata = AnnData(X, obs=obs, var=pd.DataFrame(index=pd.Index(meta["var_names"], dtype=str)))
        if setup.get("layer") is not None:
            adata.layers[setup["layer"]] = X.copy()
        return adata

    # ------------------------------------------------------- from bulk
    @classmethod
    def from_reference(
        cls,
        bulk: AnnData,
        cells: AnnData,
        drug: str,
        *,
        data_kwargs: dict[str, Any] | None = None,
        train_kwargs: dict[str, Any] | None = None,
        **model_kwargs: Any,
    ) -> Self:
        """Prepare the data (:func:`transfer_data`), set it up, build and train a model in one call.

        Parameters
        ----------
        bulk, cells, drug
            As in :func:`transfer_data`.
        data_kwargs
            Passed to :func:`transfer_data` (label rule, layers, ``genes``, ``balance``, ...).
        train_kwargs
            Passed to :meth:`train`.
        **model_kwargs
            Passed to the model's constructor.

        Returns
        -------
        The trained model.
        """
        data = transfer_data(bulk, cells, drug, **(data_kwargs or {}))
        cls.setup_anndata(data, **cls._setup_kwargs_from(model_kwargs))
        model = cls(data, **model_kwargs)
        model.train(**(train_kwargs or {}))
        return model

    @classmethod
    def _setup_kwargs_from(cls, model_kwargs: dict[str, Any]) -> dict[str, Any]:
        return {}
