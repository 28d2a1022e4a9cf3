"""Torch module of PathwayTransfer: shared / private encoders, pathway-masked decoder, response classifier."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn

from sctl.nn._masked import MaskedLinear, reverse_gradient
from sctl.nn._mlp import masked_loss, mlp

X_KEY, DOMAIN_KEY, LABELS_KEY = "X", "sctl_domain_code", "sctl_target"  # never "labels": scvi loads it as int64
PHASES = ("pretrain", "classifier")


def orthogonality(private: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
    """Difference loss of domain separation networks: mean squared entry of ``P̂ᵀ Ŝ`` on row-normalised codes.

    Zero when the private and shared codes are orthogonal :cite:p:`bousmalis2016dsn,he2022codeae`. The
    codes are centred on the rows given: pass one domain at a time :cite:p:`he2025transfer{Eq. 6}`.
    """
    p = F.normalize(private - private.mean(0), dim=1)
    s = F.normalize(shared - shared.mean(0), dim=1)
    return (p.T @ s).pow(2).mean()


def domain_masks(domain: torch.Tensor) -> list[torch.Tensor]:
    """Row masks of the bulk lines and of the cells of a minibatch, leaving out a domain it lacks."""
    is_cell = domain.reshape(-1) > 0.5
    return [mask for mask in (~is_cell, is_cell) if mask.any()]


def per_domain_mse(x_hat: torch.Tensor, x: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """Sum over domains of the mean squared error within each :cite:p:`he2025transfer{Eq. 5 and 10}`.

    Each domain weighs the same whatever its share of the minibatch: 5,000 cells do not outweigh 900 lines.
    """
    return torch.stack([F.mse_loss(x_hat[mask], x[mask]) for mask in masks]).sum()


class PathwayTransferModule(BaseModuleClass):
    """Shared + private autoencoder with a pathway-masked decoder and a classifier on the shared code.

    See :class:`sctl.models.PathwayTransfer` for the model and its reference :cite:p:`he2025transfer`; the model
    owns the defaults of the hyperparameters and passes every one.

    Parameters
    ----------
    n_genes
        Number of input genes.
    mask
        Genes x pathways 0/1 array (:func:`sctl.pp.pathway_mask`); ``None`` without a pathway decoder.
    n_extra
        Unmasked latent units added to the pathway units (5 in the paper).
    n_latent
        Size of the shared code when ``mask`` is ``None``.
    n_hidden
        Hidden units of the encoders and of the dense decoder.
    n_classifier_hidden
        Hidden units of the two ReLU layers of the classifier.
    dropout
        Dropout rate of the hidden layers.
    shared_encoder
        ``True``: one shared and one private encoder per domain (the paper); ``False``: one plain encoder for
        both domains and no private codes ("base AE" ablation).
    adversarial
        Add a domain discriminator on the shared code, trained through gradient reversal ("adv AE" ablation).
    r1, r2
        Weights of the orthogonality and sparse-reconstruction losses (0.1 and 0.1 in the paper).
    adversarial_weight
        Weight of the domain-adversarial loss.
    sparse_relu
        ReLU after the masked decoder layer, as the paper's Eq. 8-9 (``False``: linear, able to output the
        negative values of z-scored genes).
    """

    def __init__(
        self,
        n_genes: int,
        mask: np.ndarray | None,
        *,
        n_extra: int,
        n_latent: int,
        n_hidden: int,
        n_classifier_hidden: tuple[int, int] = (64, 32),
        dropout: float,
        shared_encoder: bool,
        adversarial: bool,
        r1: float,
        r2: float,
        adversarial_weight: float,
        sparse_relu: bool,
    ) -> None:
        super().__init__()
        self.sparse_relu = sparse_relu
        self.n_latent = n_latent if mask is None else mask.shape[1] + n_extra
        self.shared_encoder, self.adversarial = shared_encoder, adversarial
        self.r1, self.r2, self.adversarial_weight = r1, r2, adversarial_weight
        d = self.n_latent
        self.shared = mlp([n_genes, n_hidden, d], dropout)
        if shared_encoder:
            self.private = nn.ModuleList([mlp([n_genes, n_hidden, d], dropout) for _ in range(2)])
            self.decoder = mlp([2 * d, n_hidden, n_genes], dropout)
        else:
            self.decoder = mlp([d, n_hidden, n_genes], dropout)
        self.sparse_decoder = None
        if mask is not None:
            full = np.hstack([np.asarray(mask, dtype=np.float32), np.ones((n_genes, n_extra), dtype=np.float32)])
            self.sparse_decoder = MaskedLinear(full)
        self.classifier = mlp([d, *n_classifier_hidden, 1], dropout)
        self.discriminator = mlp([d, 64, 1]) if adversarial else None
        self.phase: str | None = None
        #: train the autoencoder with the classifier (keeping its losses) instead of freezing it
        self.finetune_encoder = True

    # ------------------------------------------------------------ phases
    def set_phase(self, phase: str | None) -> None:
        """Freeze what the phase does not train: the autoencoder during ``"classifier"`` unless fine-tuned."""
        if phase not in (*PHASES, None):
            raise ValueError(f"Unknown phase {phase!r}; choose one of {PHASES}.")
        self.phase = phase
        frozen = phase == "classifier" and not self.finetune_encoder
        for name, param in self.named_parameters():
            param.requires_grad = not frozen or name.startswith("classifier.")

    # -------------------------------------------------------- scvi hooks
    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        return {"x": tensors[X_KEY], "domain": tensors[DOMAIN_KEY].reshape(-1)}

    def _get_generative_input(self, tensors, inference_outputs, **kwargs) -> dict[str, torch.Tensor]:
        return {"z_shared": inference_outputs["z_shared"], "z_private": inference_outputs["z_private"]}

    @auto_move_data
    def inference(self, x: torch.Tensor, domain: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """Shared code of every row and private code from the encoder of its domain."""
        z_shared = self.shared(x)
        z_private = None
        if self.shared_encoder:
            is_cell = (domain > 0.5).unsqueeze(1)
            z_private = torch.where(is_cell, self.private[1](x), self.private[0](x))
        return {"z_shared": z_shared, "z_private": z_private}

    @auto_move_data
    def generative(self, z_shared: torch.Tensor, z_private: torch.Tensor | None) -> dict[str, torch.Tensor | None]:
        """Dense reconstruction from ``[private, shared]`` and pathway-masked reconstruction from ``shared``."""
        code = z_shared if z_private is None else torch.cat([z_private, z_shared], dim=1)
        sparse = None if self.sparse_decoder is None else self.sparse_decoder(z_shared)
        if sparse is not None and self.sparse_relu:
            sparse = F.relu(sparse)
        return {"x_dense": self.decoder(code), "x_sparse": sparse}

    def loss(self, tensors, inference_outputs, generative_outputs, phase: str = "pretrain", **kwargs) -> LossOutput:
        """Autoencoder loss (``"pretrain"``); bulk-label cross-entropy on the shared code (``"classifier"``).

        With :attr:`finetune_encoder` the classifier phase adds the autoencoder loss, so the encoders adapt to
        the labels while their codes keep reconstructing both domains (and the pathway units their meaning).
        """
        x = tensors[X_KEY]
        if phase != "classifier":
            return self._autoencoder_loss(tensors, inference_outputs, generative_outputs)
        logits = self.classifier(inference_outputs["z_shared"]).reshape(-1)
        ce = masked_loss(F.binary_cross_entropy_with_logits, logits, tensors[LABELS_KEY].reshape(-1).float())
        if not self.finetune_encoder:
            return LossOutput(loss=ce, extra_metrics={"cross_entropy": ce.detach()}, n_obs_minibatch=len(x))
        ae = self._autoencoder_loss(tensors, inference_outputs, generative_outputs)
        metrics = {"cross_entropy": ce.detach(), **ae.extra_metrics}
        return LossOutput(loss=ce + ae.loss, extra_metrics=metrics, n_obs_minibatch=len(x))

    def _autoencoder_loss(self, tensors, inference_outputs, generative_outputs) -> LossOutput:
        """Reconstruction, orthogonality, sparse reconstruction and (optionally) domain-adversarial terms.

        The first three have one term per domain, each a mean within its domain, summed (Eq. 5, 6, 10).
        """
        x = tensors[X_KEY]
        z_shared = inference_outputs["z_shared"]
        masks = domain_masks(tensors[DOMAIN_KEY])
        recon = per_domain_mse(generative_outputs["x_dense"], x, masks)
        metrics = {"reconstruction": recon.detach()}
        loss = recon
        z_private = inference_outputs["z_private"]
        if z_private is not None:
            diff = torch.stack([orthogonality(z_private[m], z_shared[m]) for m in masks]).sum()
            loss = loss + self.r1 * diff
            metrics["orthogonality"] = diff.detach()
        if generative_outputs["x_sparse"] is not None:
            sparse = per_domain_mse(generative_outputs["x_sparse"], x, masks)
            loss = loss + self.r2 * sparse
            metrics["sparse_reconstruction"] = sparse.detach()
        if self.discriminator is not None:
            domain = tensors[DOMAIN_KEY].reshape(-1).float()
            adv = F.binary_cross_entropy_with_logits(self.discriminator(reverse_gradient(z_shared)).reshape(-1), domain)
            loss = loss + self.adversarial_weight * adv
            metrics["domain_adversarial"] = adv.detach()
        return LossOutput(loss=loss, reconstruction_loss=recon, extra_metrics=metrics, n_obs_minibatch=len(x))

    # ----------------------------------------------------------- predict
    def encode(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """Shared code (the classifier's input; one unit per pathway first, then the free units)."""
        return self.shared(x)

    def predict_logits(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """Logit of sensitivity of every row."""
        return self.classifier(self.shared(x)).reshape(-1)

    def logits_from_code(self, z_shared: torch.Tensor) -> torch.Tensor:
        """Logit of sensitivity from the shared code (used to attribute predictions to pathways)."""
        return self.classifier(z_shared).reshape(-1)
