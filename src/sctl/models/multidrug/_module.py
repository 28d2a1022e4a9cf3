"""Torch module of MultiDrugTransfer: one encoder, a general-sensitivity head and one specific head per drug."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn

from sctl.models.pathway_transfer._module import domain_masks, per_domain_mse
from sctl.nn._mlp import masked_loss, mlp
from sctl.nn._mmd import mmd

X_KEY, DOMAIN_KEY, GENERAL_REG, SPECIFIC_REG = "X", "sctl_domain_code", "sctl_general", "sctl_specific"


class MultiDrugModule(BaseModuleClass):
    """Shared encoder of expression; heads for general sensitivity ``g`` and each drug's specific response ``s_d``.

    See :class:`sctl.models.MultiDrugTransfer` for the model; it owns the defaults of the hyperparameters and
    passes every one.

    Parameters
    ----------
    n_genes
        Number of input genes.
    n_drugs
        Number of drugs (specific heads).
    n_hidden, n_latent
        Hidden units and size of the embedding.
    dropout
        Dropout rate of the hidden layers.
    noise
        Probability that an input value is zeroed while training (denoising corruption, as ATSDP-NET's).
    recon_weight
        Weight of the reconstruction of both domains from the embedding (0: no decoder).
    mmd_weight, mmd_kernel
        Weight (0: off) and kernel (``"rbf"`` or ``"linear"``) of the MMD between the lines' and the cells'
        embeddings.
    """

    def __init__(
        self,
        n_genes: int,
        n_drugs: int,
        *,
        n_hidden: int,
        n_latent: int,
        dropout: float,
        noise: float,
        recon_weight: float,
        mmd_weight: float,
        mmd_kernel: str,
    ) -> None:
        super().__init__()
        self.noise, self.recon_weight = noise, recon_weight
        self.mmd_weight, self.mmd_kernel = mmd_weight, mmd_kernel
        self.encoder = nn.Sequential(mlp([n_genes, n_hidden, n_latent], dropout), nn.ReLU())
        self.general_head = nn.Linear(n_latent, 1)
        self.specific_heads = nn.Linear(n_latent, n_drugs)
        self.decoder = mlp([n_latent, n_hidden, n_genes]) if recon_weight > 0 else None

    def set_phase(self, phase: str | None) -> None:
        """One phase: every parameter trains."""

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """Zero each input value with probability ``noise`` (training only)."""
        if not self.training or self.noise <= 0:
            return x
        return x * torch.bernoulli(torch.full_like(x, 1.0 - self.noise))

    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        return {"x": tensors[X_KEY]}

    def _get_generative_input(self, tensors, inference_outputs, **kwargs) -> dict[str, torch.Tensor]:
        return {"z": inference_outputs["z"]}

    @auto_move_data
    def inference(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embedding of every (corrupted) row."""
        return {"z": self.encoder(self._corrupt(x))}

    @auto_move_data
    def generative(self, z: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """General sensitivity, specific responses and (with a decoder) the reconstruction."""
        return {
            "general": self.general_head(z).reshape(-1),
            "specific": self.specific_heads(z),
            "x_hat": None if self.decoder is None else self.decoder(z),
        }

    def loss(self, tensors, inference_outputs, generative_outputs, **kwargs) -> LossOutput:
        """MSE of ``g`` and of the observed ``s_d`` on the lines, plus the domain terms (reconstruction, MMD).

        Cells carry NaN targets and add to the domain terms only.
        """
        x, z = tensors[X_KEY], inference_outputs["z"]
        general = masked_loss(F.mse_loss, generative_outputs["general"], tensors[GENERAL_REG].reshape(-1).float())
        specific = masked_loss(F.mse_loss, generative_outputs["specific"], tensors[SPECIFIC_REG].float())
        loss = general + specific
        metrics = {"general_mse": general.detach(), "specific_mse": specific.detach()}
        masks = domain_masks(tensors[DOMAIN_KEY])
        if self.decoder is not None:
            recon = per_domain_mse(generative_outputs["x_hat"], x, masks)
            loss = loss + self.recon_weight * recon
            metrics["reconstruction"] = recon.detach()
        if self.mmd_weight > 0 and len(masks) == 2 and min(int(m.sum()) for m in masks) > 1:
            distance = mmd(z[masks[0]], z[masks[1]], kernel=self.mmd_kernel)
            loss = loss + self.mmd_weight * distance
            metrics["mmd"] = distance.detach()
        return LossOutput(loss=loss, extra_metrics=metrics, n_obs_minibatch=len(x))

    def encode(self, x: torch.Tensor, domain: torch.Tensor | None = None) -> torch.Tensor:
        """Embedding of each row (no corruption in eval mode)."""
        return self.encoder(x)

    def responses(self, x: torch.Tensor, domain: torch.Tensor | None = None) -> torch.Tensor:
        """``[g, s_1, ..., s_D]`` of every row: general sensitivity then each drug's specific response."""
        z = self.encoder(x)
        return torch.cat([self.general_head(z), self.specific_heads(z)], dim=1)
