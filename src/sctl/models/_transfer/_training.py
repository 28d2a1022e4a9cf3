"""Phased training of the transfer models: a held-out share of the labelled lines, balancing, one run per phase."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.model.base import UnsupervisedTrainingMixin

from sctl import pp
from sctl._constants import LABEL_KEY, RESISTANT, SENSITIVE
from sctl._validate import get_matrix, to_dense
from sctl.models._transfer._data import _DOMAIN_CODE, _TARGET, TRANSFER_KEY

#: values of ``train(balance=...)``; ``"none"`` turns off a balancing the data or the preset asks for
BALANCE_METHODS = ("none", "smote", "oversample")

#: the last arguments of the transfer models' ``train``, a docstring fragment (:func:`sctl._docs.doc_params`)
TRAIN_ARGS = """
    balance
        ``"smote"``, ``"oversample"`` or ``"none"``: balance the labelled TRAINING lines after the validation lines
        are held out (:func:`sctl.pp.balance`). ``None``: what :func:`~sctl.models.transfer_data` recorded (its
        ``balance=``), else the preset's.
    seed
        Seed of the split, balancing, minibatch order and dropout: the same seed gives the same numbers.
    {trainer_args}
    """


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


class PhasedTrainingMixin(UnsupervisedTrainingMixin):
    """Training of a transfer model in phases (``_phases``), each a Lightning run of the module's loss for it.

    The validation rows are a held-out share of the labelled bulk lines; the optional balancing of the labelled
    training lines happens after they are held out.
    """

    _phases: ClassVar[tuple[str, ...]] = ()

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
        balance: str = "none",
        monitor: str = "validation_loss",
    ) -> np.ndarray:
        """Run each phase with Lightning; validation = a held-out share of the trainable lines. Returns its rows.

        With ``balance`` (``"smote"`` / ``"oversample"``) the labelled bulk lines left for training, and only
        those, are balanced after the split (:meth:`_balanced_training_data`); the model then trains on a copy
        of its data with the synthetic lines appended, and keeps its own data. Early stopping follows the
        validation metric ``monitor``.

        ``trainer_kwargs`` go to Lightning's ``Trainer`` in every phase: ``devices`` (one by default), ``strategy``
        (e.g. ``"ddp_find_unused_parameters_true"`` on several GPUs; scvi-tools then shards each epoch with a
        distributed sampler), ``callbacks``, ``logger``, ``check_val_every_n_epoch``, ...
        """
        torch.manual_seed(seed)
        train_idx, val_idx = self._split(train_size, seed)
        own_data = self.adata
        training_data, train_idx = self._balanced_training_data(train_idx, val_idx, balance, seed)
        check_val = trainer_kwargs.pop("check_val_every_n_epoch", 1)
        fit_kwargs = {
            "accelerator": accelerator,
            "devices": trainer_kwargs.pop("devices", 1),
            "batch_size": batch_size,
            "datasplitter_kwargs": {"external_indexing": [train_idx, val_idx, np.array([], dtype=int)]},
            "early_stopping": early_stopping and len(val_idx) > 0,
            "early_stopping_monitor": monitor,
            "early_stopping_patience": patience,
            "check_val_every_n_epoch": check_val if len(val_idx) else None,
        }
        if training_data is not own_data:
            self.adata = training_data
        try:
            self._run_phases(epochs, plan_kwargs, fit_kwargs, trainer_kwargs, check_val)
        finally:
            if training_data is not own_data:
                self.adata = own_data
        self.module.set_phase(None)
        self.module.eval()
        self.is_trained_ = True
        return val_idx

    def _run_phases(
        self,
        epochs: dict[str, int],
        plan_kwargs: dict[str, dict[str, Any]],
        fit_kwargs: dict[str, Any],
        trainer_kwargs: dict[str, Any],
        check_val: int,
    ) -> None:
        """One Lightning run per phase with ``epochs[phase] > 0``; each phase's history in ``history_by_phase_``."""
        trainer_kwargs.setdefault("enable_model_summary", False)
        trainer_kwargs.setdefault("enable_checkpointing", False)
        callbacks = trainer_kwargs.pop("callbacks", None) or []
        self.history_by_phase_: dict[str, pd.DataFrame] = {}
        for phase in self._phases:
            if epochs.get(phase, 0) <= 0:
                continue
            self.module.set_phase(phase)
            self.module.train()
            n_before = {key: len(value) for key, value in (self.history or {}).items()}
            super().train(
                max_epochs=int(epochs[phase]),
                plan_kwargs={"phase": phase, **plan_kwargs.get(phase, {})},
                **fit_kwargs,
                **trainer_kwargs,
                # scvi-tools' Trainer appends its early-stopping callback to the list it is given: one list per phase
                callbacks=list(callbacks),
            )
            self.history_by_phase_[phase] = _phase_history(self.history, n_before, check_val)

    def _resolve_balance(self, balance: str | None, preset_value: str) -> str:
        """``train``'s ``balance``: the user's, else what :func:`transfer_data` recorded, else the preset's."""
        if balance is None:
            balance = self.adata.uns.get(TRANSFER_KEY, {}).get("params", {}).get("balance") or preset_value
        if balance not in BALANCE_METHODS:
            raise ValueError(
                f"`balance` must be one of {BALANCE_METHODS} (or None: the data's or the preset's), got {balance!r}."
            )
        return balance

    def _balanced_training_data(
        self, train_idx: np.ndarray, val_idx: np.ndarray, balance: str, seed: int
    ) -> tuple[AnnData, np.ndarray]:
        """The data to train on and its training rows, the labelled bulk TRAINING lines balanced.

        With ``balance`` (:func:`sctl.pp.balance`) the synthetic lines are appended to a copy of the data. The
        validation rows ``val_idx`` are never read, so no copy or interpolant of a training line is among
        them. A :class:`UserWarning` says when the training lines are already balanced (nothing is added).
        ``self.balance_`` records the method and the class counts before and after.
        """
        self.balance_ = {"method": balance, "n_synthetic": 0}
        if balance == "none":
            return self.adata, train_idx
        obs = self.adata.obs
        target = obs[_TARGET].to_numpy()
        is_line = obs[_DOMAIN_CODE].to_numpy()[train_idx] == 0
        lines = train_idx[is_line & ~np.isnan(target[train_idx])]
        layer = self._setup_args["layer"]
        X = get_matrix(self.adata, layer)
        labels = np.where(target[lines] == 1, SENSITIVE, RESISTANT)
        names = pd.Index(self.adata.obs_names[lines].astype(str))
        labelled = AnnData(to_dense(X[lines], np.float32), obs=pd.DataFrame({LABEL_KEY: labels}, index=names))
        balanced = pp.balance(labelled, label_key=LABEL_KEY, method=balance, seed=seed)
        record = balanced.uns["sctl_balance"]
        self.balance_.update({k: record[k] for k in ("counts_before", "counts_after", "n_synthetic")})
        if record["n_synthetic"] == 0:
            warnings.warn(
                f"balance={balance!r} changed nothing: the {len(lines)} labelled training lines are already balanced "
                f"({record['counts_before']}). Pass balance='none' to say so.",
                UserWarning,
                stacklevel=4,
            )
            return self.adata, train_idx
        synthetic = balanced[balanced.obs["sctl_synthetic"].to_numpy()]
        new_rows = np.arange(self.adata.n_obs, self.adata.n_obs + synthetic.n_obs)
        return self._with_rows(synthetic), np.r_[train_idx, new_rows]

    def _with_rows(self, synthetic: AnnData) -> AnnData:
        """A copy of the registered columns of the data with the synthetic bulk lines appended."""
        layer = self._setup_args["layer"]
        X = get_matrix(self.adata, layer)
        X = np.vstack([to_dense(X, np.float32), synthetic.X.astype(np.float32)])
        codes = [c for c in self.adata.obs.columns if c.startswith("_sctl_")]
        names = [f"sctl_balance:{i}" for i in range(synthetic.n_obs)]
        new = pd.DataFrame(np.nan, index=pd.Index(names), columns=codes)
        new[_DOMAIN_CODE] = 0.0
        new[_TARGET] = (synthetic.obs[LABEL_KEY].astype(str) == SENSITIVE).astype(np.float32).to_numpy()
        if "_sctl_cluster_code" in new:
            new["_sctl_cluster_code"] = -1.0
        obs = pd.concat([self.adata.obs[codes], new]).astype(np.float32)
        obs.index = obs.index.astype(str)
        var = pd.DataFrame(index=self.adata.var_names.copy())
        if layer is None:
            return AnnData(X, obs=obs, var=var)
        return AnnData(obs=obs, var=var, layers={layer: X})

    def _trainable_lines(self) -> np.ndarray:
        """Rows of the labelled bulk lines, the rows the validation share is drawn from."""
        obs = self.adata.obs
        lines = np.flatnonzero(obs[_DOMAIN_CODE].to_numpy() == 0)
        return lines[~np.isnan(obs[_TARGET].to_numpy()[lines])]

    def _split(self, train_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Hold out ``1 - train_size`` of the trainable lines; train on every other row (cells included)."""
        if not 0 < train_size <= 1:
            raise ValueError(f"`train_size` must lie in (0, 1], got {train_size}.")
        lines = self._trainable_lines()
        rng = np.random.default_rng(seed)
        n_val = round((1 - train_size) * len(lines))
        val = np.sort(rng.choice(lines, size=n_val, replace=False)) if n_val else np.array([], dtype=int)
        train = np.setdiff1d(np.arange(self.adata.n_obs), val)
        return train, val
