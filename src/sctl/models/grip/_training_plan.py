"""Lightning training plan of GRIP: alternate discriminator and generator updates (manual optimisation)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scvi.module.base import BaseModuleClass
from scvi.train import TrainingPlan

from sctl.models.grip._module import X_KEY


class GRIPTrainingPlan(TrainingPlan):
    """Conditional-GAN training in the spirit of scvi-tools' :class:`~scvi.train.AdversarialTrainingPlan`.

    Each minibatch first updates the discriminator on real versus generated (detached) profiles, then the
    generator on the hybrid loss of GRIP-Lung :cite:p:`xie2026griplung`: ``adversarial_weight * BCE(D(G(x)), real) +
    lambda_mse * MSE(G(x), y)``. Both use Adam (learning rate ``lr``, 1e-3 in the paper). The discriminator always
    reads the condition detached, so the adversarial term moves the cell-line and drug embeddings only through
    the profile they generate, never by shifting the condition the discriminator judges.

    Parameters
    ----------
    module
        A :class:`~sctl.models.grip._module.GRIPModule`.
    lr
        Learning rate of both optimisers.
    lambda_mse
        Weight of the regression (MSE) term.
    adversarial_weight
        Weight of the adversarial term; ``0`` trains the generator on the MSE alone (no discriminator update).
    weight_decay
        Weight decay of both optimisers.
    """

    def __init__(
        self,
        module: BaseModuleClass,
        *,
        lr: float = 1e-3,
        lambda_mse: float = 10.0,
        adversarial_weight: float = 1.0,
        weight_decay: float = 1e-6,
        **kwargs,
    ):
        super().__init__(module, lr=lr, weight_decay=weight_decay, **kwargs)
        self.lambda_mse = lambda_mse
        self.adversarial_weight = adversarial_weight
        self.automatic_optimization = False

    def _generator_parameters(self) -> list[torch.nn.Parameter]:
        disc = {id(p) for p in self.module.discriminator.parameters()}
        return [p for p in self.module.parameters() if id(p) not in disc and p.requires_grad]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """One discriminator step, then one generator step."""
        opt_g, opt_d = self.optimizers()
        inference_outputs, generative_outputs, scvi_loss = self.forward(batch)
        pred_z, condition = generative_outputs["pred_z"], inference_outputs["condition"]
        real_z = self.module.standardize(batch[X_KEY])

        if self.adversarial_weight > 0:
            real_logit = self.module.discriminate(real_z, condition.detach())
            fake_logit = self.module.discriminate(pred_z.detach(), condition.detach())
            d_loss = F.binary_cross_entropy_with_logits(
                real_logit, torch.ones_like(real_logit)
            ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
            self.log("train_d_loss", d_loss, on_step=False, on_epoch=True)

        g_loss = self.lambda_mse * scvi_loss.loss
        if self.adversarial_weight > 0:
            # the condition is an input the discriminator reads, not something the adversarial term may tune: its
            # gradient reaches the embeddings only through the generated profile
            fool_logit = self.module.discriminate(pred_z, condition.detach())
            adv = F.binary_cross_entropy_with_logits(fool_logit, torch.ones_like(fool_logit))
            g_loss = g_loss + self.adversarial_weight * adv
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.log("train_loss", g_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train_mse", scvi_loss.loss, on_step=False, on_epoch=True)
        return g_loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Log the MSE (standard units) on the validation profiles."""
        _, _, scvi_loss = self.forward(batch)
        self.log("validation_mse", scvi_loss.loss, on_step=False, on_epoch=True)

    def on_train_epoch_end(self) -> None:
        """Nothing to schedule (the parent steps a scheduler only when one is configured)."""

    def on_validation_epoch_end(self) -> None:
        """Nothing to schedule."""

    def configure_optimizers(self):
        """Adam for the generator (with the embeddings) and Adam for the discriminator."""
        opt_g = torch.optim.Adam(self._generator_parameters(), lr=self.lr, weight_decay=self.weight_decay)
        opt_d = torch.optim.Adam(self.module.discriminator.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        return [opt_g, opt_d]
