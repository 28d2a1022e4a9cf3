"""Lightning training plan shared by the transfer models: one phase at a time, loss from the module."""

from __future__ import annotations

import torch
from scvi.module.base import BaseModuleClass
from scvi.train import TrainingPlan


class PhaseTrainingPlan(TrainingPlan):
    """Minimise the module's loss of one training ``phase`` (e.g. ``"pretrain"``, then ``"classifier"``).

    Parameters frozen by the module for the phase (``requires_grad=False``) are left out of the optimiser by
    :meth:`scvi.train.TrainingPlan.configure_optimizers`. Logs ``train_loss``, ``validation_loss`` (the early
    stopping monitor) and the module's extra metrics.

    Parameters
    ----------
    module
        A module whose ``loss(tensors, inference_outputs, generative_outputs, phase=...)`` returns a
        :class:`scvi.module.base.LossOutput`.
    phase
        Name of the phase.
    lr, weight_decay
        Adam settings.
    **kwargs
        Passed to :class:`scvi.train.TrainingPlan`.
    """

    def __init__(
        self, module: BaseModuleClass, *, phase: str, lr: float = 1e-3, weight_decay: float = 1e-5, **kwargs
    ) -> None:
        super().__init__(module, lr=lr, weight_decay=weight_decay, **kwargs)
        self.phase = phase

    def _step(self, batch: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
        _, _, output = self.module(batch, loss_kwargs={"phase": self.phase})
        n = len(batch["X"])
        self.log(f"{prefix}_loss", output.loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
        for name, value in (output.extra_metrics or {}).items():
            self.log(f"{prefix}_{name}", value, on_step=False, on_epoch=True, batch_size=n)
        return output.loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Loss of one minibatch."""
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Validation loss of one minibatch (held-out labelled bulk lines)."""
        self._step(batch, "validation")
