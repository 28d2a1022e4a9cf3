"""Training of CSG²A on scvi-tools' stack: a loss per stage, a :class:`~scvi.train.TrainingPlan` and its runner.

Both stages run through :class:`scvi.train.TrainRunner` (Lightning): pretraining on registered profiles, and the
fine-tuning of the ln IC50 head on registered (cell line, drug) pairs, which index the expression and drug tables
held by the loss, so no profile is copied once per pair.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from anndata import AnnData
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ProgressBar as ProgressBarBase
from scvi.data import AnnDataManager
from scvi.dataloaders import DataSplitter
from scvi.train import TrainingPlan, TrainRunner
from scvi.train._progress import ProgressBar
from scvi.utils import track
from torch import nn

from sctl.models.csg2a._data import BASAL_KEY, DOSE_KEY, DRUG_KEY, LINE_KEY, TARGET_KEY, TIME_KEY, X_KEY
from sctl.models.csg2a._module import CSG2AModule, IC50Head, ic50_forward


class PretrainingLoss(nn.Module):
    """Pretraining loss: MSE of the predicted perturbed profile, both profiles robust z-scored.

    Parameters
    ----------
    network
        The network to train; its ``input_center`` / ``input_scale`` z-score the profiles.
    features
        Drug feature table; a minibatch names each profile's row in it.
    """

    def __init__(self, network: CSG2AModule, features: torch.Tensor) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("features", features)

    def loss(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean squared error of a minibatch of registered profiles."""
        net = self.network
        basal = (tensors[BASAL_KEY] - net.input_center) / net.input_scale
        target = (tensors[X_KEY] - net.input_center) / net.input_scale
        drug = tensors[DRUG_KEY].squeeze(-1).long()
        out = net(basal, self.features[drug], tensors[DOSE_KEY].squeeze(-1), tensors[TIME_KEY].squeeze(-1))
        return F.mse_loss(out["predicted"], target)


class IC50Loss(nn.Module):
    """Fine-tuning loss: MSE of the standardised ln IC50 of (cell line, drug) pairs, the network frozen.

    The frozen network stays in evaluation mode (no dropout) while the head trains, as in the paper's recipe.

    Parameters
    ----------
    network
        The pretrained network, frozen.
    head
        The scaling layer and regressor to train.
    expression
        Standardised basal profiles of the training cell lines; a minibatch names each pair's row.
    features
        Drug feature table; a minibatch names each pair's row.
    dose, time
        The fixed condition of the response assay (µM, hours).
    """

    def __init__(
        self,
        network: CSG2AModule,
        head: IC50Head,
        expression: torch.Tensor,
        features: torch.Tensor,
        dose: float,
        time: float,
    ) -> None:
        super().__init__()
        self.network, self.head = network, head
        self.register_buffer("expression", expression)
        self.register_buffer("features", features)
        self.register_buffer("condition", torch.tensor([float(dose), float(time)]))

    def train(self, mode: bool = True) -> Self:
        """Set the head's mode; a frozen network stays in evaluation mode."""
        super().train(mode)
        if not any(p.requires_grad for p in self.network.parameters()):
            self.network.eval()
        return self

    def loss(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean squared error of a minibatch of registered pairs."""
        line, drug = tensors[LINE_KEY].squeeze(-1).long(), tensors[DRUG_KEY].squeeze(-1).long()
        n = len(line)
        dose, time = self.condition[0].expand(n), self.condition[1].expand(n)
        pred = ic50_forward(self.network, self.head, self.expression[line], self.features[drug], dose, time)
        return F.mse_loss(pred, tensors[TARGET_KEY].squeeze(-1))


class CSG2ATrainingPlan(TrainingPlan):
    """Minimise the loss of one CSG²A stage with Adam; logs ``train_loss`` and ``validation_loss`` per epoch.

    Frozen parameters (``requires_grad=False``) are left out of the optimiser by
    :meth:`scvi.train.TrainingPlan.configure_optimizers`.

    Parameters
    ----------
    module
        A :class:`PretrainingLoss` or :class:`IC50Loss`.
    lr, weight_decay, eps
        Adam settings (``eps`` is PyTorch's default, not scvi-tools' 0.01).
    lr_final, lr_epochs
        With ``lr_final``, the learning rate follows a half cosine from ``lr`` to ``lr_final`` over the first
        ``lr_epochs`` epochs and stays at ``lr_final`` after (the authors' fine-tuning schedule); ``None``: constant.
    **kwargs
        Passed to :class:`scvi.train.TrainingPlan`.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        eps: float = 1e-8,
        lr_final: float | None = None,
        lr_epochs: int = 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, lr=lr, weight_decay=weight_decay, eps=eps, **kwargs)
        self.lr_final, self.lr_epochs = lr_final, max(int(lr_epochs), 1)
        self._sums: dict[str, tuple[torch.Tensor, int]] = {}

    def configure_optimizers(self) -> dict[str, Any]:
        """Adam over the trainable parameters, with the cosine decay of the learning rate when ``lr_final`` is set."""
        config = super().configure_optimizers()
        if self.lr_final is not None:
            floor = self.lr_final / self.lr

            def factor(epoch: int) -> float:
                return floor + (1 - floor) * (1 + math.cos(math.pi * min(epoch, self.lr_epochs) / self.lr_epochs)) / 2

            scheduler = torch.optim.lr_scheduler.LambdaLR(config["optimizer"], factor)
            config["lr_scheduler"] = {"scheduler": scheduler, "interval": "epoch"}
        return config

    # Lightning's `log` costs about a millisecond a call, a sizeable share of a small minibatch's step: the plan sums
    # the losses and logs each mean once per epoch, the training one on the last batch (before the progress bar
    # reads it at the epoch's end).
    def _accumulate(self, batch: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
        loss = self.module.loss(batch)
        n = len(next(iter(batch.values())))
        total, count = self._sums.get(prefix, (0.0, 0))
        self._sums[prefix] = (total + loss.detach() * n, count + n)
        return loss

    def _log_mean(self, prefix: str) -> None:
        total, count = self._sums.pop(prefix, (0.0, 0))
        if count:
            mean = total / count
            self.log(f"{prefix}_loss", mean, on_step=False, on_epoch=True, prog_bar=True, sync_dist=self.use_sync_dist)

    def on_train_epoch_start(self) -> None:
        """Start the epoch's sum of training losses."""
        self._sums.pop("train", None)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Loss of one minibatch."""
        loss = self._accumulate(batch, "train")
        if batch_idx + 1 == self.trainer.num_training_batches:
            self._log_mean("train")
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Loss of one validation minibatch."""
        self._accumulate(batch, "validation")

    def on_validation_epoch_end(self) -> None:
        """Log the validation loss of the epoch."""
        self._log_mean("validation")


class StageProgressBar(ProgressBar):
    """scvi-tools' per-epoch progress bar, labelled with the stage: ``Pretraining CSG2A, epoch 3/100``."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def init_train_tqdm(self, trainer: Trainer) -> Any:
        """The bar over the epochs, named after the stage."""
        return track(None, total=trainer.max_epochs, description=self.label, style="tqdm", disable=self.is_disabled)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Name the stage and the epoch (instead of scvi-tools' ``Epoch 3/100``)."""
        ProgressBarBase.on_train_epoch_start(self, trainer, pl_module)
        if self.is_enabled:
            epoch = f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
            self.main_progress_bar.set_description(f"{self.label}, {epoch}", refresh=False)


@dataclass
class _Stage:
    """What :class:`scvi.train.TrainRunner` reads and writes on the model it trains, for one CSG²A stage."""

    adata: AnnData
    module: nn.Module
    history_: dict[str, pd.DataFrame] | None = None
    is_trained_: bool = False
    trainer: Trainer | None = field(default=None, repr=False)

    def to_device(self, device: torch.device | str) -> None:
        """Called by the runner after training; CSG²A predicts on the CPU, where :func:`run` returns it."""


def check_accelerator(accelerator: Any) -> None:
    """Refuse a GPU or MPS accelerator that PyTorch cannot see, with the fix; Lightning checks everything else."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"accelerator={accelerator!r} but PyTorch sees no CUDA GPU; use 'auto' or 'cpu'.")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("accelerator='mps' but PyTorch sees no MPS device; use 'auto' or 'cpu'.")


def split(n_obs: int, train_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation rows; a share ``1 - train_size`` of the rows, drawn with ``seed``, validates."""
    if not 0 < train_size <= 1:
        raise ValueError(f"`train_size` must lie in (0, 1], got {train_size}.")
    n_val = round((1 - train_size) * n_obs)
    if n_val >= n_obs:
        raise ValueError(f"`train_size={train_size}` leaves no training row of {n_obs}; raise it.")
    val = np.sort(np.random.default_rng(seed).choice(n_obs, size=n_val, replace=False))
    return np.setdiff1d(np.arange(n_obs), val), val


def run(
    loss: nn.Module,
    manager: AnnDataManager,
    *,
    label: str,
    max_epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    train_size: float,
    early_stopping: bool,
    patience: int,
    seed: int,
    enable_progress_bar: bool,
    accelerator: Any,
    trainer_kwargs: dict[str, Any],
    lr_final: float | None = None,
    lr_epochs: int = 20,
) -> dict[str, list[float]]:
    """Train ``loss`` on the data registered in ``manager`` with scvi-tools' :class:`~scvi.train.TrainRunner`.

    ``accelerator`` and ``trainer_kwargs`` (``devices``, one by default; ``strategy``; ``callbacks``;
    ``check_val_every_n_epoch``; ``logger``; ...) go to Lightning's ``Trainer`` unchanged. The split, shuffling and
    dropout draw from ``seed`` (the caller's random state is left untouched), so the same seed gives the same numbers.
    The modules return to the CPU, in evaluation mode.

    Returns
    -------
    The per-epoch ``train_loss`` (and ``validation_loss`` with a validation set), as lists.
    """
    check_accelerator(accelerator)
    train_idx, val_idx = split(manager.adata.n_obs, train_size, seed)
    if early_stopping and not len(val_idx):
        raise ValueError("`early_stopping=True` watches a validation set: pass `train_size` < 1 to hold one out.")
    with warnings.catch_warnings():  # no batch normalisation here: a small last minibatch is harmless
        warnings.filterwarnings("ignore", message="Last batch will have a small size", category=UserWarning)
        splitter = DataSplitter(
            manager, external_indexing=[train_idx, val_idx, np.array([], int)], batch_size=batch_size
        )
    kwargs = {
        "devices": 1,
        "check_val_every_n_epoch": 1 if len(val_idx) else None,
        "early_stopping": early_stopping,
        "early_stopping_monitor": "validation_loss",
        "early_stopping_patience": patience,
        **trainer_kwargs,
        "enable_progress_bar": enable_progress_bar,
        "simple_progress_bar": False,  # the labelled bar below replaces scvi-tools' own
        # scvi-tools' Trainer appends its callbacks to the list it is given: a new list per stage
        "callbacks": [
            *(trainer_kwargs.get("callbacks") or []),
            *([StageProgressBar(label)] if enable_progress_bar else []),
        ],
    }
    stage = _Stage(manager.adata, loss)
    plan = CSG2ATrainingPlan(loss, lr=lr, weight_decay=weight_decay, lr_final=lr_final, lr_epochs=lr_epochs)
    loss.train()  # Lightning keeps the modes it is given (the frozen network of fine-tuning stays in evaluation)
    try:
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
            torch.manual_seed(seed)
            TrainRunner(stage, plan, splitter, max_epochs=max_epochs, accelerator=accelerator, **kwargs)()
    finally:
        loss.cpu().eval()
    history = stage.history_ or {}
    return {
        key: history[key][key].astype(float).tolist() for key in ("train_loss", "validation_loss") if key in history
    }
