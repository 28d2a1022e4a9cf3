"""PathwayTransfer: bulk-to-single-cell drug response with a shared encoder and a pathway-masked decoder."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ... import pp
from ..._validate import check_anndata
from .._transfer import TransferModel
from ._module import PathwayTransferModule
from ._training_plan import PhaseTrainingPlan


class PathwayTransfer(TransferModel):
    """Shared / private autoencoder with a pathway-guided sparse decoder, then a classifier (He et al. 2025).

    He, Li, Lan, Long, Zhai, Li & Wen (2025), "A transfer learning framework for predicting and interpreting drug
    responses via single-cell RNA-seq data", Int. J. Mol. Sci. 26:4365. The model, trained on labelled bulk cell
    lines and unlabelled cells (:func:`sctl.models.transfer_data`):

    1. *pretraining* (all rows): a shared encoder ``S`` and one private encoder per domain ``P_bulk``, ``P_cells``
       (two layers, ReLU; Eq. 1-2); a dense decoder reconstructs ``x`` from ``[P(x), S(x)]`` (Eq. 4) and a sparse
       decoder reconstructs it from ``S(x)`` alone through weights masked by pathway membership (Eq. 8-10; one
       latent unit per pathway of :func:`sctl.pp.pathway_mask`, plus ``n_extra`` unmasked units). Loss
       ``MSE + r1 · orthogonality(P, S) + r2 · MSE_sparse`` (Eq. 5-7, 11; ``r1 = r2 = 0.1``);
    2. *classifier* (labelled rows): a three-layer network (two ReLU layers, sigmoid output; Eq. 12-15) on
       ``S(x)`` trained with cross-entropy on the bulk labels; cells are then scored through ``S``. Labels that
       cells carry are never used unless :func:`~sctl.models.transfer_data` was told to. By default the
       encoders are fine-tuned in this phase together with the classifier, their pretraining losses still
       applied to every row (``train(finetune_encoder=False)``: frozen encoders, our reading of the paper).

    Choices of ours, where the paper is silent or does not fit z-scored input:
    fine-tuning the encoders with the classifier (as CODE-AE fine-tunes its encoder): on semi-synthetic tumours of
    held-out GDSC lines (``benchmarks/transfer_models.py``) a frozen encoder lost about 0.05 AUROC;
    the sparse decoder is linear (the paper's ReLU cannot output the negative values of z-scored genes);
    the orthogonality loss is that of CODE-AE / domain separation networks (row-normalised, centred codes,
    mean squared entry of ``PᵀS``); mean instead of summed squared errors; the private codes have the size of
    the shared one. Ablations of the paper's Table 3: ``pathway_decoder=False`` ("share AE"),
    ``shared_encoder=False`` (one plain encoder, "base AE"), ``adversarial=True`` (a domain discriminator on the
    shared code trained by gradient reversal, Ganin & Lempitsky 2015, in place of CODE-AE-ADV's critic).

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata` (from :func:`sctl.models.transfer_data`).
    genesets
        Pathways as a decoupler-style DataFrame (``source``, ``target``) or a mapping name -> genes; ``None``
        uses :func:`sctl.datasets.genesets` (GO biological processes, the paper's best resource).
    min_genes, max_genes
        Pathways need this many of the model's genes to get a latent unit (10 in the paper).
    n_extra
        Unmasked latent units (5 in the paper).
    pathway_decoder
        Use the pathway-masked decoder; ``False`` gives a shared code of ``n_latent`` units.
    n_latent
        Size of the shared code without the pathway decoder.
    shared_encoder, adversarial
        Ablations, see above.
    n_hidden
        Hidden units of encoders and dense decoder.
    dropout
        Dropout rate (the paper found 0.1-0.4 robust).
    r1, r2, adversarial_weight
        Loss weights.
    seed
        Seed of the initial weights.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> cells = sctl.datasets.tumor("Dabrafenib", n_cells=300)
    >>> bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])].copy()
    >>> data = sctl.models.transfer_data(bulk, cells, "Dabrafenib", genes=bulk.var_names[bulk.var["landmark"]])
    >>> sctl.models.PathwayTransfer.setup_anndata(data)
    >>> model = sctl.models.PathwayTransfer(data)
    >>> model.train(max_epochs=30)  # doctest: +SKIP
    >>> proba = model.predict(cells)  # doctest: +SKIP
    """

    _module_cls = PathwayTransferModule
    _training_plan_cls = PhaseTrainingPlan
    _phases = ("pretrain", "classifier")

    def __init__(
        self,
        adata: AnnData,
        genesets: pd.DataFrame | Mapping[str, Iterable[str]] | None = None,
        *,
        min_genes: int = 10,
        max_genes: int | None = 500,
        n_extra: int = 5,
        pathway_decoder: bool = True,
        n_latent: int = 64,
        shared_encoder: bool = True,
        adversarial: bool = False,
        n_hidden: int = 256,
        dropout: float = 0.1,
        r1: float = 0.1,
        r2: float = 0.1,
        adversarial_weight: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__(check_anndata(adata))
        self.mask_ = None
        if pathway_decoder:
            if genesets is None:
                from ...datasets import genesets as load_genesets

                genesets = load_genesets()
            self.mask_ = pp.pathway_mask(genesets, self.var_names, min_genes=min_genes, max_genes=max_genes)
        self._init_kwargs = {
            "min_genes": min_genes, "max_genes": max_genes, "n_extra": n_extra, "pathway_decoder": pathway_decoder,
            "n_latent": n_latent, "shared_encoder": shared_encoder, "adversarial": adversarial,
            "n_hidden": n_hidden, "dropout": dropout, "r1": r1, "r2": r2,
            "adversarial_weight": adversarial_weight, "seed": seed,
        }  # fmt: skip
        torch.manual_seed(seed)
        self.module = self._module_cls(
            n_genes=self.summary_stats.n_vars,
            mask=None if self.mask_ is None else self.mask_.to_numpy(),
            n_extra=n_extra,
            n_latent=n_latent,
            n_hidden=n_hidden,
            dropout=dropout,
            shared_encoder=shared_encoder,
            adversarial=adversarial,
            r1=r1,
            r2=r2,
            adversarial_weight=adversarial_weight,
        )
        n_pathways = 0 if self.mask_ is None else self.mask_.shape[1]
        self._model_summary_string = (
            f"PathwayTransfer: {self.summary_stats.n_vars} genes, {n_pathways} pathways + "
            f"{self.module.n_latent - n_pathways} free latent units, shared_encoder={shared_encoder}, "
            f"adversarial={adversarial}"
        )
        self.init_params_ = self._get_init_params(locals())

    @property
    def latent_names(self) -> list[str]:
        """Name of each unit of the shared code: the pathways, then ``"free_0"``, ``"free_1"``, ..."""
        pathways = [] if self.mask_ is None else [str(c) for c in self.mask_.columns]
        return pathways + [f"free_{i}" for i in range(self.module.n_latent - len(pathways))]

    def train(
        self,
        max_epochs: int = 100,
        *,
        pretrain_epochs: int | None = None,
        batch_size: int = 128,
        lr: float = 1e-3,
        classifier_lr: float = 1e-3,
        train_size: float = 0.9,
        early_stopping: bool = True,
        patience: int = 10,
        finetune_encoder: bool = True,
        accelerator: str = "auto",
        seed: int = 0,
        **trainer_kwargs: Any,
    ) -> None:
        """Pretrain the autoencoder on all rows, then train the classifier on the labelled rows.

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
        train_size
            Share of the labelled bulk lines used for training; the rest (10 % in the paper) is the validation
            set that early stopping watches (``validation_loss``).
        early_stopping
            Stop a phase when ``validation_loss`` has not improved for ``patience`` epochs.
        patience
            Epochs without improvement before stopping.
        finetune_encoder
            Train the encoders with the classifier, their autoencoder losses kept on every row (``True``), or
            freeze them after pretraining and train the classifier alone (``False``).
        accelerator
            Lightning accelerator (``"auto"``: a GPU when there is one; ``"gpu"``, ``"cpu"``, ``"mps"``).
        seed
            Seed of the split, minibatch order and dropout: the same seed gives the same numbers.
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer` (Lightning's ``Trainer``) in both phases, e.g. ``devices=2``
            (one device by default) with ``strategy="ddp_find_unused_parameters_true"`` to train on two GPUs,
            ``callbacks=[...]``, ``enable_progress_bar=True``.
        """
        pretrain = max_epochs if pretrain_epochs is None else pretrain_epochs
        self.module.finetune_encoder = finetune_encoder
        self._train_phases(
            {"pretrain": pretrain, "classifier": max_epochs},
            batch_size=batch_size,
            train_size=train_size,
            early_stopping=early_stopping,
            patience=patience,
            accelerator=accelerator,
            seed=seed,
            plan_kwargs={"pretrain": {"lr": lr}, "classifier": {"lr": classifier_lr}},
            trainer_kwargs=trainer_kwargs,
        )

    def _extra_meta(self) -> dict[str, Any]:
        return {"pathways": None if self.mask_ is None else [str(c) for c in self.mask_.columns]}

    @classmethod
    def _init_from_meta(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> dict[str, Any]:
        init = dict(meta["init"])
        if meta.get("pathways"):
            mask = state["sparse_decoder.mask"].numpy()[:, : len(meta["pathways"])]
            genes = np.asarray(meta["var_names"])
            init["genesets"] = {name: genes[mask[:, j] > 0].tolist() for j, name in enumerate(meta["pathways"])}
            init["min_genes"], init["max_genes"] = 1, None
        return init
