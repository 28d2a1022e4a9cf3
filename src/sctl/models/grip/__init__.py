"""GRIP: conditional GAN of drug-induced expression changes (GRIP-Lung, :cite:t:`xie2026griplung`)."""

from ._model import GRIP
from ._module import GRIPModule
from ._training_plan import GRIPTrainingPlan

__all__ = ["GRIP", "GRIPModule", "GRIPTrainingPlan"]
