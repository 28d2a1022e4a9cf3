"""GRIP: conditional GAN of drug-induced expression changes (GRIP-Lung, :cite:t:`xie2026griplung`)."""

from sctl.models.grip._model import GRIP
from sctl.models.grip._module import GRIPModule
from sctl.models.grip._training_plan import GRIPTrainingPlan

__all__ = ["GRIP", "GRIPModule", "GRIPTrainingPlan"]
