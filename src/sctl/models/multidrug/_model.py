"""MultiDrugTransfer: one bulk-to-single-cell model for many drugs, general and drug-specific response apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.data.fields import NumericalObsField, ObsmField
from scvi.model.base import BaseModelClass

from sctl._constants import LABEL_KEY
from sctl._validate import check_anndata, check_finite, check_obs_key, closest, get_matrix, preview
from sctl.models._io import SaveLoadMixin
from sctl.models._transfer._base import DomainDataMixin, cell_rows
from sctl.models._transfer._data import _DOMAIN_CODE, BULK, DOMAIN_KEY
from sctl.models._transfer._training import PhasedTrainingMixin
from sctl.models._transfer._training_plan import PhaseTrainingPlan
from sctl.models.multidrug._calibration import Calibration
from sctl.models.multidrug._data import GENERAL_KEY, MULTIDRUG_KEY, RESPONSE_Z_KEY, multidrug_data
from sctl.models.multidrug._module import GENERAL_REG, SPECIFIC_REG, MultiDrugModule
from sctl.models.multidrug._surface import MultiDrugSurface

# numeric columns written by ``setup_anndata`` (scvi-tools registers numbers)
_GENERAL, _SPECIFIC = "_sctl_general", "_sctl_specific"
#: ``train`` defaults
TRAIN_DEFAULTS = {
    "max_epochs": 100,
    "batch_size": 128,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "train_size": 0.9,
    "early_stopping": True,
    "patience": 10,
    "monitor": "validation_specific_mse",
}


class MultiDrugTransfer(MultiDrugSurface, DomainDataMixin, SaveLoadMixin, PhasedTrainingMixin, BaseModelClass):
    """Bulk-to-single-cell drug response for many drugs at once: ``z[l, d] ≈ g(x_l) + s_d(x_l)``.

    sctl's own design; no paper defines this model. A screen such as GDSC shares a strong general-sensitivity
    axis: a model of one drug's raw response learns what generally sensitive lines look like and cannot tell
    which drug a sub-population resists. This model makes the split of :func:`sctl.pp.drug_specific_response`
    explicit. With ``z[l, d]`` line ``l``'s response to drug ``d`` z-scored over the lines tested with it, ``g[l]``
    the line's mean z over the panel (its general sensitivity) and ``s[l, d] = z[l, d] - g[l]``:

    - one encoder ``E`` embeds every profile (bulk line or cell; inputs corrupted by masking noise while
      training, as ATSDP-NET's denoising autoencoders, Zhou et al. 2025, Front. Med. 12:1631898);
    - a *general* head predicts ``g`` from ``E(x)``; one *specific* head per drug predicts ``s_d``; both learn by
      squared error on the observed entries (untested pairs, NaN, are masked), trained once for all drugs;
    - the cells, unlabelled, enter through the domain handling of sctl's transfer models: each domain is
      standardised on its own (:func:`sctl.models.transfer_data`), both are reconstructed from ``E(x)`` (the
      per-domain reconstruction of He et al. 2025, Int. J. Mol. Sci. 26:4365), and a maximum mean discrepancy
      between the lines' and the cells' embeddings pulls the two together (``mmd_weight``; ATSDP-NET's alignment
      term, a multi-bandwidth Gaussian kernel, :func:`sctl.nn.mmd`).

    A cell's predicted response to drug ``d`` is ``g + s_d`` (low = sensitive); its probability of sensitivity
    is ``sigmoid(a * (m_d - (g + s_d)))``, where ``m_d`` is the z between the drug's sensitive and resistant lines
    (:func:`sctl.pp.binarize_response`) and ``a > 0`` a slope fitted on the held-out lines
    by maximum likelihood: a decreasing map, so it ranks the cells as ``g + s_d`` does. Read :meth:`predict` for
    "will this cell respond to ``d``", and :meth:`get_specific_response` for "to which drug rather than to drugs
    in general" (a sub-population resistant to one drug and sensitive to another differs there, even when one
    of them is generally more sensitive); :meth:`get_general_sensitivity` gives the drug-blind part.

    Parameters
    ----------
    adata
        Output of :func:`sctl.models.multidrug_data`, registered with :meth:`setup_anndata`.
    drug
        Drug :meth:`predict` scores when called without one (then it returns one probability per cell, as
        :class:`sctl.tl.ResponseModel` asks); ``None``: :meth:`predict` returns every drug.
    preset
        ``"sctl"`` only: the model has no paper to take a ``"paper"`` preset from.
    n_hidden, n_latent
        Hidden units of the encoder (and decoder) and size of the embedding.
    dropout
        Dropout rate of the hidden layers.
    noise
        Probability that an input value is zeroed while training.
    recon_weight
        Weight of the reconstruction of both domains (0: no decoder).
    mmd_weight, mmd_kernel
        Weight (0: off) and kernel (``"rbf"`` or ``"linear"``) of the MMD between lines and cells.
    seed
        Seed of the initial weights.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> cells = sctl.datasets.realistic_tumor(["Dabrafenib", "Docetaxel"], mode="drug_pair", n_cells=300)
    >>> bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    >>> model = sctl.models.MultiDrugTransfer.from_reference(bulk, cells)  # doctest: +SKIP
    >>> proba = model.predict_all(cells)  # cells x 40 drugs  # doctest: +SKIP
    >>> general = model.get_general_sensitivity(cells)  # doctest: +SKIP
    """

    _module_cls = MultiDrugModule
    _training_plan_cls = PhaseTrainingPlan
    _phases = ("train",)

    def __init__(
        self,
        adata: AnnData,
        *,
        drug: str | None = None,
        preset: str = "sctl",
        n_hidden: int = 256,
        n_latent: int = 64,
        dropout: float = 0.5,
        noise: float = 0.3,
        recon_weight: float = 0.1,
        mmd_weight: float = 0.1,
        mmd_kernel: str = "rbf",
        seed: int = 0,
    ) -> None:
        super().__init__(check_anndata(adata))
        if preset != "sctl":
            raise ValueError(
                f"MultiDrugTransfer takes preset='sctl' only (got {preset!r}): it is sctl's own design, and no paper "
                "describes it to take a 'paper' preset from."
            )
        if mmd_kernel not in ("rbf", "linear"):
            raise ValueError(f"`mmd_kernel` must be 'rbf' or 'linear', got {mmd_kernel!r}.")
        self.preset = preset
        args = self._setup_args
        self.drugs = pd.Index(adata.obsm[args["response_key"]].columns.astype(str))
        self.standardize_rows_ = bool(adata.uns.get(MULTIDRUG_KEY, {}).get("params", {}).get("standardize_rows"))
        self._record_init_params(locals())
        hyper = {name: self.init_params_[name] for name in ("n_hidden", "n_latent", "dropout", "noise")}
        hyper |= {name: self.init_params_[name] for name in ("recon_weight", "mmd_weight", "mmd_kernel")}
        self.drug = drug
        torch.manual_seed(seed)
        self.module = self._module_cls(n_genes=self.summary_stats.n_vars, n_drugs=len(self.drugs), **hyper)
        self._model_summary_string = (
            f"MultiDrugTransfer: {self.summary_stats.n_vars} genes, {len(self.drugs)} drugs, latent {n_latent}, "
            f"reconstruction weight {recon_weight}, MMD weight {mmd_weight} ({mmd_kernel})"
        )

    # -------------------------------------------------------------- setup
    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        domain_key: str = DOMAIN_KEY,
        general_key: str = GENERAL_KEY,
        response_key: str = RESPONSE_Z_KEY,
        layer: str | None = None,
        bulk_value: str = BULK,
        **kwargs: Any,
    ) -> None:
        """Register the expression, the domain of each row, the lines' general sensitivity and specific responses.

        Parameters
        ----------
        adata
            Output of :func:`sctl.models.multidrug_data`, or any AnnData of bulk lines and cells,
            z-scored per domain. The targets are written as numeric ``obs`` / ``obsm`` entries (``_sctl_*``), as
            scvi-tools writes its own ``_scvi_*`` keys.
        domain_key
            Column of ``adata.obs`` naming the domain of each row.
        general_key
            Column of ``adata.obs`` with each line's general sensitivity ``g`` (ignored on cells).
        response_key
            DataFrame in ``adata.obsm`` with each line's z-scored response to every drug (NaN = untested); the
            specific target is ``z - g``.
        layer
            Layer with the expression (``None``: ``X``).
        bulk_value
            Value of ``adata.obs[domain_key]`` marking bulk rows; every other value is a cell.
        **kwargs
            Passed to :meth:`scvi.data.AnnDataManager.register_fields`.
        """
        setup_method_args = cls._get_setup_method_args(**locals())
        check_anndata(adata)
        check_finite(get_matrix(adata, layer), "the expression")  # checks before writing anything into `adata`
        hint = "Build the data with `sctl.models.multidrug_data`."
        domain = check_obs_key(adata, domain_key, hint=hint)
        general = pd.to_numeric(check_obs_key(adata, general_key, hint=hint), errors="coerce").to_numpy(np.float64)
        table = adata.obsm.get(response_key)
        if not isinstance(table, pd.DataFrame):
            raise KeyError(f"`adata.obsm[{response_key!r}]` must be a DataFrame of lines x drugs (z-scores). {hint}")
        is_cell = cell_rows(domain, domain_key, bulk_value)
        general[is_cell] = np.nan
        specific = table.to_numpy(np.float64) - general[:, None]
        specific[is_cell] = np.nan
        if np.isnan(specific).all():
            raise ValueError(f"No bulk row has a general sensitivity and a response in `obsm[{response_key!r}]`.")
        adata.obs[_DOMAIN_CODE] = is_cell.astype(np.float32)
        adata.obs[_GENERAL] = general.astype(np.float32)
        adata.obsm[_SPECIFIC] = pd.DataFrame(specific.astype(np.float32), index=adata.obs_names, columns=table.columns)
        targets = [NumericalObsField(GENERAL_REG, _GENERAL), ObsmField(SPECIFIC_REG, _SPECIFIC)]
        cls._register(adata, setup_method_args, layer, targets, **kwargs)

    @property
    def drug(self) -> str | None:
        """Drug :meth:`predict` scores when called without one (``None``: every drug)."""
        return self._drug

    @drug.setter
    def drug(self, drug: str | None) -> None:
        self._drug = None if drug is None else self._check_drug(drug)
        self.init_params_["drug"] = self._drug

    def _check_drug(self, drug: str) -> str:
        if drug not in self.drugs:
            raise KeyError(
                f"Drug {drug!r} is not one of the {len(self.drugs)} drugs this MultiDrugTransfer was trained on."
                f"{closest(drug, self.drugs)} Drugs: {preview(self.drugs)}. Train a model with it in `drugs=`."
            )
        return str(drug)

    # -------------------------------------------------------------- train
    def train(
        self,
        max_epochs: int = TRAIN_DEFAULTS["max_epochs"],
        *,
        batch_size: int = TRAIN_DEFAULTS["batch_size"],
        lr: float = TRAIN_DEFAULTS["lr"],
        weight_decay: float = TRAIN_DEFAULTS["weight_decay"],
        train_size: float = TRAIN_DEFAULTS["train_size"],
        early_stopping: bool = TRAIN_DEFAULTS["early_stopping"],
        patience: int = TRAIN_DEFAULTS["patience"],
        monitor: str = TRAIN_DEFAULTS["monitor"],
        accelerator: str = "auto",
        seed: int = 0,
        **trainer_kwargs: Any,
    ) -> None:
        """Train encoder and heads on every drug at once (AdamW), then calibrate the probabilities.

        Parameters
        ----------
        max_epochs
            Most epochs (passes over the lines and the kept cells).
        batch_size
            Rows (lines and cells together) per minibatch.
        lr, weight_decay
            AdamW settings.
        train_size
            Share of the lines trained on; the others (held out at random, ``seed``) give the early-stopping loss
            and calibrate the probabilities. ``1``: no validation, calibration on the training lines.
        early_stopping, patience, monitor
            Stop when the validation metric ``monitor`` has not improved for ``patience`` epochs: the loss of the
            held-out lines (``"validation_loss"``) or one of its parts (``"validation_specific_mse"``,
            ``"validation_general_mse"``).
        accelerator
            Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``, ...).
        seed
            Seed of the split, the minibatches and the corruption.
        **trainer_kwargs
            Passed to Lightning's ``Trainer`` (``enable_progress_bar``, ``callbacks``, ``logger``, ...).
        """
        labels = self._line_labels()
        val_idx = self._train_phases(
            {"train": max_epochs},
            batch_size=batch_size,
            train_size=train_size,
            early_stopping=early_stopping,
            patience=patience,
            accelerator=accelerator,
            seed=seed,
            plan_kwargs={"train": {"lr": lr, "weight_decay": weight_decay, "optimizer": "AdamW"}},
            trainer_kwargs=trainer_kwargs,
            monitor=monitor,
        )
        self.train_params_ = {
            "max_epochs": max_epochs,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "train_size": train_size,
            "early_stopping": early_stopping,
            "patience": patience,
            "monitor": monitor,
            "seed": seed,
        }
        self._calibrate(labels, val_idx)

    def _trainable_lines(self) -> np.ndarray:
        """Rows of the lines with a general sensitivity, the rows the validation share is drawn from."""
        obs = self.adata.obs
        is_line = obs[_DOMAIN_CODE].to_numpy() == 0
        return np.flatnonzero(is_line & ~np.isnan(obs[_GENERAL].to_numpy()))

    def _line_labels(self) -> pd.DataFrame:
        """The lines' sensitive / resistant labels of every drug (``obsm["sctl_label"]``), which calibrate."""
        labels = self.adata.obsm.get(LABEL_KEY)
        if not isinstance(labels, pd.DataFrame) or not self.drugs.isin(labels.columns).all():
            raise KeyError(
                f"`adata.obsm[{LABEL_KEY!r}]` must hold the lines' sensitive / resistant labels of every drug (rows x "
                "drugs) to calibrate the probabilities; build the data with `sctl.models.multidrug_data`."
            )
        return labels[self.drugs]

    def _calibrate(self, labels: pd.DataFrame, val_idx: np.ndarray) -> None:
        """Fit the map from predicted z to probability on the held-out lines (else on every line)."""
        lines = self._trainable_lines()
        X = np.asarray(get_matrix(self.adata, self._setup_args["layer"])[lines], dtype=np.float32)
        z_observed = self.adata.obsm[self._setup_args["response_key"]].iloc[lines]
        fit_rows = np.flatnonzero(np.isin(lines, val_idx)) if len(val_idx) else np.arange(len(lines))
        what = "held-out lines" if len(val_idx) else "training lines"
        z_predicted = self._z(self._scores(X))
        self.calibration_ = Calibration.fit(z_observed, labels.iloc[lines], z_predicted, fit_rows, what)

    # ------------------------------------------------------- from bulk
    @classmethod
    def from_reference(
        cls,
        reference: AnnData,
        cells: AnnData,
        drugs: str | Sequence[str] | None = None,
        *,
        key: str = "ln_ic50",
        data_kwargs: dict[str, Any] | None = None,
        train_kwargs: dict[str, Any] | None = None,
        **model_kwargs: Any,
    ) -> Self:
        """Prepare the data (:func:`~sctl.models.multidrug_data`), set it up, build and train in one call.

        Parameters
        ----------
        reference, cells, drugs, key
            As in :func:`~sctl.models.multidrug_data` (``drugs=None``: every drug of
            ``reference.obsm[key]`` tested on at least 100 lines).
        data_kwargs
            Other arguments of :func:`~sctl.models.multidrug_data` (label rule, layers, ``genes``,
            ``min_lines``, ``max_cells``, ...).
        train_kwargs
            Passed to :meth:`train` (e.g. ``{"max_epochs": 50, "enable_progress_bar": False}``).
        **model_kwargs
            Passed to the constructor (``drug=``, ``n_latent=``, ``mmd_weight=``, ...).

        Returns
        -------
        The trained model.
        """
        data = multidrug_data(reference, cells, drugs, key=key, **(data_kwargs or {}))
        cls.setup_anndata(data)
        model = cls(data, **model_kwargs)
        model.train(**(train_kwargs or {}))
        return model
