"""PathwayTransfer: bulk-to-single-cell drug response with a shared encoder and a pathway-masked decoder."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from sctl import pp
from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.models._base import init_settings, preset_settings, train_phases_with_preset
from sctl.models._transfer._base import TransferModel
from sctl.models._transfer._training import TRAIN_ARGS
from sctl.models._transfer._training_plan import PhaseTrainingPlan
from sctl.models.pathway_transfer._module import PathwayTransferModule

#: the paper's constructor and ``train`` values (sources: docs/methods/pathway_transfer.md)
_PAPER_INIT = {
    "min_genes": 10,
    "n_extra": 5,
    "n_hidden": 256,
    "dropout": 0.1,
    "r1": 0.1,
    "r2": 0.1,
    "sparse_relu": True,
}
_PAPER_TRAIN = {
    "max_epochs": 100,
    "batch_size": 128,
    "lr": 1e-3,
    "classifier_lr": 1e-3,
    "train_size": 0.9,
    "early_stopping": True,
    "patience": 10,
    "finetune_encoder": False,
    "balance": "none",
}
#: constructor and ``train`` values of each preset: sctl's differ from the paper's where it measured better
INIT_PRESETS = {"sctl": {**_PAPER_INIT, "sparse_relu": False}, "paper": _PAPER_INIT}
TRAIN_PRESETS = {"sctl": {**_PAPER_TRAIN, "finetune_encoder": True}, "paper": _PAPER_TRAIN}
#: the sctl.datasets.genesets collection used when no gene sets are given
DEFAULT_GENESETS = "go_bp"


@doc_params()
class PathwayTransfer(TransferModel):
    """Shared / private autoencoder with a pathway-guided sparse decoder, then a classifier :cite:p:`he2025transfer`.

    The model of :cite:t:`he2025transfer`, trained on labelled bulk cell lines and unlabelled cells
    (:func:`sctl.models.transfer_data`):

    1. *pretraining* (all rows): a shared encoder ``S`` and one private encoder per domain ``P_bulk``, ``P_cells``
       (two layers, ReLU; Eq. 1-2); a dense decoder reconstructs ``x`` from ``[P(x), S(x)]`` (Eq. 4) and a sparse
       decoder reconstructs it from ``S(x)`` alone through weights masked by pathway membership (Eq. 8-10; one
       latent unit per pathway of :func:`sctl.pp.pathway_mask`, plus ``n_extra`` unmasked units). Loss
       ``MSE + r1 · orthogonality(P, S) + r2 · MSE_sparse`` (Eq. 5-7, 11; ``r1 = r2 = 0.1``);
    2. *classifier* (labelled rows): a three-layer network (two ReLU layers, sigmoid output; Eq. 12-15) on
       ``S(x)`` trained with cross-entropy on the bulk labels; cells are then scored through ``S``. Labels that
       cells carry are never used unless :func:`~sctl.models.transfer_data` was told to. With
       ``finetune_encoder=True`` the encoders train in this phase too, their pretraining losses still applied
       to every row; ``False`` freezes them, as the paper's classifier reads the trained shared encoder.

    The losses of Eq. 5, 6 and 10 have one term per domain (a mean within each domain, summed), so the larger
    domain does not outweigh the other. ``preset="paper"`` takes every choice the paper states (frozen encoders
    after pretraining, ReLU sparse decoder, 2,500 highly variable genes and AUC labels through
    :meth:`from_reference`); ``preset="sctl"`` (default) fine-tunes the encoders with the classifier, keeps the
    sparse decoder linear (z-scored genes are negative half the time) and uses every shared gene. Each value and
    its source: ``docs/methods/pathway_transfer.md``. Ablations of the paper's Table 3:
    ``pathway_decoder=False`` ("share AE"), ``shared_encoder=False`` (one plain encoder, "base AE"),
    ``adversarial=True`` (a domain discriminator on the shared code trained by gradient reversal,
    :cite:t:`ganin2015dann`, in place of CODE-AE-ADV's critic).

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata` (from :func:`sctl.models.transfer_data`).
    genesets
        Pathways as a decoupler-style DataFrame (``source``, ``target``), a mapping name -> genes, a ``.gmt``
        file (e.g. MSigDB's GO cellular components, ``c5.go.cc.*.gmt``, the units the paper reports) or the
        name of a collection of :func:`sctl.datasets.genesets` (``"go_bp"``, ``"reactome"``). ``None``: GO
        biological processes 2023 shipped with sctl (sctl's choice; with ``preset="paper"`` a warning says so).
    preset
        ``"sctl"`` (default) or ``"paper"``: the values taken by the arguments left at ``None`` here and in
        :meth:`train`.
    min_genes, max_genes
        Pathways need at least ``min_genes`` and at most ``max_genes`` of the model's genes to get a latent unit
        (``max_genes=None``: no upper bound).
    n_extra
        Unmasked latent units.
    pathway_decoder
        Use the pathway-masked decoder; ``False`` gives a shared code of ``n_latent`` units.
    n_latent
        Size of the shared code without the pathway decoder.
    shared_encoder, adversarial
        Ablations, see above.
    n_hidden
        Hidden units of encoders and dense decoder.
    dropout
        Dropout rate.
    r1, r2, adversarial_weight
        Loss weights (orthogonality, sparse reconstruction, domain adversary).
    sparse_relu
        ReLU after the pathway-masked decoder layer (Eq. 8-9); ``False``: linear.
    seed
        Seed of the initial weights.

    Examples
    --------
    {bulk_without_tumor_lines}
    >>> data = sctl.models.transfer_data(bulk, cells, "Dabrafenib", genes=bulk.var_names[bulk.var["landmark"]])
    >>> sctl.models.PathwayTransfer.setup_anndata(data)
    >>> model = sctl.models.PathwayTransfer(data)  # or preset="paper"
    >>> model.train(max_epochs=30)  # doctest: +SKIP
    >>> proba = model.predict(cells)  # doctest: +SKIP
    """

    _module_cls = PathwayTransferModule
    _training_plan_cls = PhaseTrainingPlan
    _phases = ("pretrain", "classifier")
    _init_data_args = ("adata", "genesets")  # the gene sets are saved as the decoder's mask
    _data_presets: ClassVar[dict[str, dict[str, Any]]] = {
        "sctl": {},
        "paper": {"n_top_genes": 2500, "key": "auc", "standardize_rows": False},
    }

    def __init__(
        self,
        adata: AnnData,
        genesets: pd.DataFrame | Mapping[str, Iterable[str]] | str | Path | None = None,
        *,
        preset: str = "sctl",
        min_genes: int | None = None,
        max_genes: int | None = 500,
        n_extra: int | None = None,
        pathway_decoder: bool = True,
        n_latent: int = 64,
        shared_encoder: bool = True,
        adversarial: bool = False,
        n_hidden: int | None = None,
        dropout: float | None = None,
        r1: float | None = None,
        r2: float | None = None,
        adversarial_weight: float = 0.1,
        sparse_relu: bool | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(check_anndata(adata))
        values = init_settings(self, INIT_PRESETS, locals())
        self._check_data_preset(preset)
        self.mask_ = None
        self.genesets_source_ = None
        if pathway_decoder:
            genesets, self.genesets_source_ = _load_genesets(genesets, preset)
            self.mask_ = pp.pathway_mask(genesets, self.var_names, min_genes=values["min_genes"], max_genes=max_genes)
        self._record_init_params(locals(), **values)
        torch.manual_seed(seed)
        self.module = self._module_cls(
            n_genes=self.summary_stats.n_vars,
            mask=None if self.mask_ is None else self.mask_.to_numpy(),
            n_extra=values["n_extra"],
            n_latent=n_latent,
            n_hidden=values["n_hidden"],
            dropout=values["dropout"],
            shared_encoder=shared_encoder,
            adversarial=adversarial,
            r1=values["r1"],
            r2=values["r2"],
            adversarial_weight=adversarial_weight,
            sparse_relu=values["sparse_relu"],
        )
        n_pathways = 0 if self.mask_ is None else self.mask_.shape[1]
        self._model_summary_string = (
            f"PathwayTransfer (preset {preset!r}): {self.summary_stats.n_vars} genes, {n_pathways} pathways "
            f"({self.genesets_source_}) + {self.module.n_latent - n_pathways} free latent units, "
            f"shared_encoder={shared_encoder}, adversarial={adversarial}"
        )

    @property
    def latent_names(self) -> list[str]:
        """Name of each unit of the shared code: the pathways, then ``"free_0"``, ``"free_1"``, ..."""
        pathways = [] if self.mask_ is None else [str(c) for c in self.mask_.columns]
        return pathways + [f"free_{i}" for i in range(self.module.n_latent - len(pathways))]

    @doc_params(transfer_train_args=TRAIN_ARGS)
    def train(
        self,
        max_epochs: int | None = None,
        *,
        pretrain_epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        classifier_lr: float | None = None,
        train_size: float | None = None,
        early_stopping: bool | None = None,
        patience: int | None = None,
        finetune_encoder: bool | None = None,
        balance: str | None = None,
        accelerator: str = "auto",
        seed: int = 0,
        **trainer_kwargs: Any,
    ) -> None:
        """Pretrain the autoencoder on all rows, then train the classifier on the labelled rows.

        Arguments left at ``None`` take the value of the model's preset. The validation rows are labelled bulk
        lines. To train on two GPUs pass ``devices=2`` with ``strategy="ddp_find_unused_parameters_true"`` (each
        phase leaves some parameters unused).

        Parameters
        ----------
        max_epochs
            Epochs of the classifier phase.
        pretrain_epochs
            Epochs of the autoencoder phase (``None``: ``max_epochs``).
        batch_size
            Minibatch size.
        lr, classifier_lr
            Adam learning rates of the two phases.
        {validation_args}
        finetune_encoder
            Train the encoders with the classifier, their autoencoder losses kept on every row (``True``), or
            freeze them after pretraining and train the classifier alone (``False``).
        {transfer_train_args}
        """
        values = preset_settings(self.preset, TRAIN_PRESETS, locals())
        values["balance"] = self._resolve_balance(balance, values["balance"])
        self.module.finetune_encoder = values["finetune_encoder"]
        pretrain = values["max_epochs"] if pretrain_epochs is None else pretrain_epochs
        epochs = {"pretrain": pretrain, "classifier": values["max_epochs"]}
        plan_kwargs = {"pretrain": {"lr": values["lr"]}, "classifier": {"lr": values["classifier_lr"]}}
        train_phases_with_preset(self, values, epochs, plan_kwargs, locals())

    def _extra_state(self) -> dict[str, Any]:
        pathways = None if self.mask_ is None else [str(c) for c in self.mask_.columns]
        return {**super()._extra_state(), "pathways": pathways, "genesets_source": self.genesets_source_}

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        super()._restore_extra_state(meta, path)
        self.genesets_source_ = meta.get("genesets_source", self.genesets_source_)

    @classmethod
    def _init_from_meta(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> dict[str, Any]:
        """The saved settings, and gene sets that give back the saved mask (each pathway's genes in it)."""
        init = dict(meta["init"])
        if meta.get("pathways"):
            mask = state["sparse_decoder.mask"].numpy()[:, : len(meta["pathways"])]
            genes = np.asarray(meta["var_names"])
            init["genesets"] = {name: genes[mask[:, j] > 0].tolist() for j, name in enumerate(meta["pathways"])}
            init["min_genes"], init["max_genes"] = 1, None
        return init


def _load_genesets(genesets: Any, preset: str) -> tuple[pd.DataFrame | Mapping[str, Iterable[str]], str]:
    """The gene sets to mask the decoder with, and a short description of where they come from."""
    from sctl.datasets import genesets as shipped
    from sctl.datasets import read_gmt

    if genesets is None:
        if preset == "paper":
            warnings.warn(
                "PathwayTransfer(preset='paper'): the pathway units the paper reports are GO cellular-component "
                "terms (He et al. 2025, section 2.5), which sctl does not ship; using GO biological processes 2023 "
                "(sctl's choice). Pass GO CC as `genesets='path/to/c5.go.cc.v2023.2.Hs.symbols.gmt'` (MSigDB) to "
                "follow the paper.",
                UserWarning,
                stacklevel=3,
            )
        return shipped(DEFAULT_GENESETS), f"{DEFAULT_GENESETS} (sctl default)"
    if isinstance(genesets, str | Path):
        if str(genesets) in ("go_bp", "reactome"):
            return shipped(str(genesets)), str(genesets)
        return read_gmt(genesets), Path(genesets).name
    return genesets, "user gene sets"
