"""ATSDP-NET: attention-based transfer learning from bulk cell lines to single cells."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.data.fields import NumericalObsField

from sctl._constants import LABEL_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, check_obs_key, get_matrix, to_dense
from sctl.models._base import init_settings, preset_settings, train_phases_with_preset
from sctl.models._transfer._base import LABELS_REG, TransferModel
from sctl.models._transfer._data import _DOMAIN_CODE, _TARGET, BULK, DOMAIN_KEY
from sctl.models._transfer._training import TRAIN_ARGS
from sctl.models._transfer._training_plan import PhaseTrainingPlan
from sctl.models.atsdp._module import CLUSTER_KEY, ATSDPModule

_CLUSTER = "_sctl_cluster_code"
#: the paper's constructor values (sources: docs/methods/atsdp.md)
_PAPER_INIT = {
    "n_latent": 512,
    "encoder_dims": (256, 128),
    "predictor_dims": (128, 64),
    "n_heads": 8,
    "dropout": 0.3,
    "noise": 0.1,
    "mmd_weight": 0.25,
    "mmd_kernel": "rbf",
    "cluster_weight": 0.1,
    "shared_encoder": False,
}
#: constructor values of each preset: sctl's differ from the paper's where it measured better
INIT_PRESETS = {
    "sctl": {
        **_PAPER_INIT,
        "n_latent": 32,
        "dropout": 0.1,
        "mmd_weight": 0.0,
        "mmd_kernel": "linear",
        "shared_encoder": True,
    },
    "paper": _PAPER_INIT,
}
#: ``train`` values of each preset
TRAIN_PRESETS = {
    "sctl": {
        "max_epochs": 100,
        "batch_size": 128,
        "lr": 1e-3,
        "train_size": 0.9,
        "early_stopping": True,
        "patience": 10,
        "balance": "none",
    },
    "paper": {
        "max_epochs": 500,
        "batch_size": 200,
        "lr": 1e-2,
        "train_size": 0.8,
        "early_stopping": True,
        "patience": 10,
        "balance": "oversample",
    },
}


@doc_params()
class ATSDPNet(TransferModel):
    """Denoising autoencoders, an attention predictor and MMD alignment of bulk and cells :cite:p:`zhou2025atsdpnet`.

    ATSDP-NET of :cite:t:`zhou2025atsdpnet`, building on scDEAL :cite:p:`chen2022scdeal`. Trained on labelled bulk
    lines and unlabelled cells (:func:`sctl.models.transfer_data`):

    1. *pretrain*: one denoising autoencoder per domain (``E_g, D_g`` bulk; ``E_t, D_t`` cells), inputs corrupted
       by binomial masking (each value zeroed with probability ``noise``), MSE reconstruction (Eq. 1-3, 12-14);
    2. *transfer*: the predictor ``P`` (multi-head self-attention, ``n_heads``, then an MLP; Eq. 4-11) on
       ``E_g(x_bulk)`` learns the bulk labels with cross-entropy, while ``ω · MMD(E_g(x_bulk), E_t(x_cells))``
       aligns the two embeddings and ``θ ·`` a cluster-similarity term keeps cells of one cluster together
       (Eq. 15-17). Cells are scored as ``P(E_t(x))``.

    ``preset="paper"`` is this model: two encoders, a Gaussian-kernel MMD, the cluster term, the sizes of the
    paper's Table 2, oversampling of the training lines and per-gene z-scores only (through
    :meth:`from_reference`); the paper gives no value for ω, the learning rate or the batch size, which come
    from scDEAL's released code. ``preset="sctl"`` (default) embeds both domains with ONE encoder (each keeps
    its decoder), sets ω = 0 (no alignment; a linear kernel if turned on), a bottleneck of 32 and dropout 0.1,
    and z-scores every profile first. Each value, its source and the measurements behind sctl's choices:
    ``docs/methods/atsdp.md``. Choices of ours in both presets: the
    attention runs over ``n_tokens`` learnt tokens of the embedding (one vector has no sequence to attend
    over); the bulk stages are merged into the transfer phase; the Gaussian kernel is a sum over bandwidths
    scaled by the median distance (:func:`sctl.nn.mmd`); the cluster term is ``1 -`` the mean within-cluster
    cosine similarity, over Leiden clusters (the paper: Louvain) unless ``cluster_key`` is given.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    preset
        ``"sctl"`` (default) or ``"paper"``: the values taken by the arguments left at ``None`` here and in
        :meth:`train`.
    n_latent
        Size of the bottleneck.
    encoder_dims, predictor_dims
        Hidden layers of the encoders (mirrored by the decoders) and of the predictor's MLP.
    n_heads
        Attention heads; ``0``: a plain MLP predictor.
    n_tokens, token_dim
        Tokens the embedding is split into for attention, and their size (a multiple of ``n_heads``).
    dropout
        Dropout rate.
    noise
        Probability that an input value is zeroed by the denoising corruption.
    mmd_weight, mmd_kernel
        Weight ω (``0``: no alignment) and kernel (``"rbf"`` or ``"linear"``) of the MMD term.
    cluster_weight
        Weight θ of the cluster term (0 disables it).
    shared_encoder
        One encoder for bulk and cells (``True``) or the paper's ``E_g`` and ``E_t`` (``False``; both then
        start from the same weights).
    seed
        Seed of the initial weights.

    Examples
    --------
    {bulk_without_tumor_lines}
    >>> data = sctl.models.transfer_data(bulk, cells, "Dabrafenib", standardize_rows=False)
    >>> sctl.models.ATSDPNet.setup_anndata(data)  # doctest: +SKIP
    >>> model = sctl.models.ATSDPNet(data, preset="paper")  # doctest: +SKIP
    >>> model.train(max_epochs=30)  # doctest: +SKIP
    >>> proba = model.predict(cells)  # doctest: +SKIP
    """

    _module_cls = ATSDPModule
    _training_plan_cls = PhaseTrainingPlan
    _phases = ("pretrain", "transfer")
    _data_presets: ClassVar[dict[str, dict[str, Any]]] = {"sctl": {}, "paper": {"standardize_rows": False}}

    def __init__(
        self,
        adata: AnnData,
        *,
        preset: str = "sctl",
        n_latent: int | None = None,
        encoder_dims: tuple[int, ...] | None = None,
        predictor_dims: tuple[int, ...] | None = None,
        n_heads: int | None = None,
        n_tokens: int = 8,
        token_dim: int = 32,
        dropout: float | None = None,
        noise: float | None = None,
        mmd_weight: float | None = None,
        mmd_kernel: str | None = None,
        cluster_weight: float | None = None,
        shared_encoder: bool | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(check_anndata(adata))
        values = init_settings(self, INIT_PRESETS, locals())
        self._check_data_preset(preset)
        dims = {name: tuple(values[name]) for name in ("encoder_dims", "predictor_dims")}
        values.update({name: list(value) for name, value in dims.items()})  # JSON-friendly in the saved settings
        if values["n_heads"] < 0:
            raise ValueError(f"`n_heads` must be 0 (plain MLP) or positive, got {values['n_heads']}.")
        self._record_init_params(locals(), **values)
        torch.manual_seed(seed)
        self.module = self._module_cls(
            n_genes=self.summary_stats.n_vars,
            **{**values, **dims},
            n_tokens=n_tokens,
            token_dim=token_dim,
        )
        encoders = "one shared encoder" if values["shared_encoder"] else "two encoders"
        self._model_summary_string = (
            f"ATSDPNet (preset {preset!r}): {self.summary_stats.n_vars} genes, latent {values['n_latent']}, "
            f"{values['n_heads']} attention heads, {encoders}, MMD weight {values['mmd_weight']} "
            f"({values['mmd_kernel']}), cluster weight {values['cluster_weight']}"
        )

    @classmethod
    @doc_params()
    def setup_anndata(
        cls,
        adata: AnnData,
        domain_key: str = DOMAIN_KEY,
        labels_key: str = LABEL_KEY,
        layer: str | None = None,
        bulk_value: str = BULK,
        cluster_key: str | bool | None = None,
        resolution: float = 0.5,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        """Register expression, domain, bulk labels and the cells' clusters.

        Parameters
        ----------
        adata, domain_key, labels_key, layer, bulk_value
            As in :meth:`sctl.models.PathwayTransfer.setup_anndata`.
        cluster_key
            Column of ``adata.obs`` with a cluster per cell (bulk rows ignored); ``None``: Leiden clusters of the
            cells computed here with scanpy (PCA, exact 15-neighbour graph with Gaussian weights,
            ``resolution``); ``False``: no clusters (the cluster term is then off).
        resolution
            Leiden resolution.
        seed
            Seed of the PCA and Leiden.
        {register_kwargs}
        """
        check_anndata(adata)
        check_finite(get_matrix(adata, layer), "the expression")  # checks before writing anything into `adata`
        if isinstance(cluster_key, str):
            check_obs_key(adata, cluster_key)
        cls._write_codes(adata, domain_key, labels_key, bulk_value)
        if cluster_key is not False:
            adata.obs[_CLUSTER] = _cluster_codes(adata, cluster_key, layer, resolution, seed)
        setup_method_args = cls._get_setup_method_args(**locals())
        targets = [NumericalObsField(LABELS_REG, _TARGET)]
        if cluster_key is not False:
            targets.append(NumericalObsField(CLUSTER_KEY, _CLUSTER))
        cls._register(adata, setup_method_args, layer, targets, **kwargs)

    @classmethod
    def _extra_setup(cls, meta: dict[str, Any]) -> dict[str, Any]:
        return {"cluster_key": False}

    @doc_params(transfer_train_args=TRAIN_ARGS)
    def train(
        self,
        max_epochs: int | None = None,
        *,
        pretrain_epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        train_size: float | None = None,
        early_stopping: bool | None = None,
        patience: int | None = None,
        balance: str | None = None,
        accelerator: str = "auto",
        seed: int = 0,
        **trainer_kwargs: Any,
    ) -> None:
        """Pretrain both denoising autoencoders, then train predictor and encoders with MMD and cluster terms.

        Settings left at ``None`` come from the model's preset. The validation rows are labelled bulk lines;
        several GPUs need ``strategy="ddp_find_unused_parameters_true"``, as for :class:`PathwayTransfer`.

        Parameters
        ----------
        max_epochs
            Epochs of the transfer phase.
        pretrain_epochs
            Epochs of the autoencoder phase (``None``: ``max_epochs // 2`` under ``"sctl"``, ``max_epochs``
            under ``"paper"``).
        batch_size
            Minibatch size.
        lr
            Adam learning rate of both phases.
        {validation_args}
        {transfer_train_args}
        """
        values = preset_settings(self.preset, TRAIN_PRESETS, locals())
        values["balance"] = self._resolve_balance(balance, values["balance"])
        if pretrain_epochs is None:
            pretrain_epochs = values["max_epochs"] if self.preset == "paper" else values["max_epochs"] // 2
        epochs = {"pretrain": pretrain_epochs, "transfer": values["max_epochs"]}
        plan_kwargs = {"pretrain": {"lr": values["lr"]}, "transfer": {"lr": values["lr"]}}
        train_phases_with_preset(self, values, epochs, plan_kwargs, locals())


def _cluster_codes(
    adata: AnnData, cluster_key: str | None, layer: str | None, resolution: float, seed: int
) -> np.ndarray:
    """Integer cluster of every cell (-1 for bulk rows)."""
    is_cell = adata.obs[_DOMAIN_CODE].to_numpy() > 0.5
    codes = np.full(adata.n_obs, -1.0, dtype=np.float32)
    if cluster_key is not None:
        values = check_obs_key(adata, cluster_key)[is_cell]
        codes[is_cell] = pd.Categorical(values.astype(str)).codes
        return codes
    import scanpy as sc

    cells = AnnData(to_dense(get_matrix(adata, layer))[is_cell])
    n_comps = max(2, min(30, cells.n_obs - 1, cells.n_vars - 1))
    sc.pp.pca(cells, n_comps=n_comps, random_state=seed)
    neighbors = min(15, cells.n_obs - 1)
    sc.pp.neighbors(cells, n_neighbors=neighbors, random_state=seed, transformer="sklearn", method="gauss")
    sc.tl.leiden(cells, resolution=resolution, random_state=seed, flavor="igraph", n_iterations=2, directed=False)
    codes[is_cell] = cells.obs["leiden"].cat.codes.to_numpy()
    return codes
