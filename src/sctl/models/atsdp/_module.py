"""Torch module of ATSDP-NET: denoising autoencoders per domain, attention predictor, MMD and cluster terms."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn

from sctl.nn._mlp import masked_loss, mlp
from sctl.nn._mmd import mmd

X_KEY, DOMAIN_KEY, LABELS_KEY, CLUSTER_KEY = "X", "sctl_domain_code", "sctl_target", "sctl_cluster_code"
PHASES = ("pretrain", "transfer")


class AttentionPredictor(nn.Module):
    """Multi-head self-attention over tokens of the embedding, then an MLP to one logit.

    The predictor of ATSDP-NET :cite:p:`zhou2025atsdpnet{Eq. 4-9}`. The embedding is projected to ``n_tokens`` tokens of
    ``token_dim`` features; one pre-norm Transformer-style self-attention block (residual) mixes them; the flattened
    tokens go through the MLP. ``n_heads=0`` skips the attention: a plain MLP on the embedding (the paper's 0-head
    setting).
    """

    def __init__(
        self, n_in: int, hidden: tuple[int, ...], *, n_heads: int, n_tokens: int, token_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.n_heads, self.n_tokens, self.token_dim = n_heads, n_tokens, token_dim
        if n_heads > 0:
            if token_dim % n_heads:
                raise ValueError(f"`token_dim` ({token_dim}) must be a multiple of `n_heads` ({n_heads}).")
            self.tokens = nn.Linear(n_in, n_tokens * token_dim)
            self.norm = nn.LayerNorm(token_dim)
            self.attention = nn.MultiheadAttention(token_dim, n_heads, dropout=dropout, batch_first=True)
            n_in = n_tokens * token_dim
        self.mlp = mlp([n_in, *hidden, 1], dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logit of sensitivity of every row."""
        if self.n_heads > 0:
            tokens = self.tokens(z).reshape(len(z), self.n_tokens, self.token_dim)
            normed = self.norm(tokens)
            tokens = tokens + self.attention(normed, normed, normed, need_weights=False)[0]
            z = tokens.reshape(len(z), -1)
        return self.mlp(z).reshape(-1)


def cluster_cosine(z: torch.Tensor, clusters: torch.Tensor) -> torch.Tensor:
    """Mean over clusters of ``1 - mean pairwise cosine similarity`` of the embeddings of the cells in a cluster.

    Minimising it keeps cells of one cluster together in the embedding: our reading of the cluster-similarity
    regulariser of ATSDP-NET :cite:p:`zhou2025atsdpnet{Eq. 17}` and scDEAL :cite:p:`chen2022scdeal`. Rows with cluster <
    0 (bulk lines) are ignored; clusters with one cell in the minibatch add nothing.
    """
    terms = []
    normed = F.normalize(z, dim=1)
    for c in torch.unique(clusters[clusters >= 0]):
        members = normed[clusters == c]
        n = len(members)
        if n < 2:
            continue
        sim = members @ members.T
        terms.append(1.0 - (sim.sum() - n) / (n * (n - 1)))
    return torch.stack(terms).mean() if terms else z.sum() * 0.0


class ATSDPModule(BaseModuleClass):
    """Denoising autoencoders for bulk (``E_g``, ``D_g``) and cells (``E_t``, ``D_t``) and an attention predictor.

    See :class:`sctl.models.ATSDPNet` for the model, its hyperparameters (the model owns their defaults and passes
    every one) and its reference :cite:p:`zhou2025atsdpnet`.
    """

    def __init__(
        self,
        n_genes: int,
        *,
        n_latent: int,
        encoder_dims: tuple[int, ...],
        predictor_dims: tuple[int, ...],
        n_heads: int,
        n_tokens: int,
        token_dim: int,
        dropout: float,
        noise: float,
        mmd_weight: float,
        mmd_kernel: str,
        cluster_weight: float,
        shared_encoder: bool,
    ) -> None:
        super().__init__()
        self.noise, self.mmd_weight, self.mmd_kernel = noise, mmd_weight, mmd_kernel
        self.cluster_weight = cluster_weight
        self.n_latent = n_latent
        enc, dec = [n_genes, *encoder_dims, n_latent], [n_latent, *encoder_dims[::-1], n_genes]
        self.shared_encoder = shared_encoder
        n_encoders = 1 if shared_encoder else 2
        self.encoders = nn.ModuleList([nn.Sequential(mlp(enc, dropout), nn.ReLU()) for _ in range(n_encoders)])
        self.decoders = nn.ModuleList([mlp(dec, dropout) for _ in range(2)])
        # both domains start from one set of weights, so their embeddings start in comparable coordinates
        self.decoders[1].load_state_dict(self.decoders[0].state_dict())
        if not shared_encoder:
            self.encoders[1].load_state_dict(self.encoders[0].state_dict())
        self.predictor = AttentionPredictor(
            n_latent, tuple(predictor_dims), n_heads=n_heads, n_tokens=n_tokens, token_dim=token_dim, dropout=dropout
        )

    def set_phase(self, phase: str | None) -> None:
        """All parameters train in both phases."""
        if phase not in (*PHASES, None):
            raise ValueError(f"Unknown phase {phase!r}; choose one of {PHASES}.")

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """Binomial masking noise: each value is zeroed with probability ``noise`` (training only; Eq. 1, 14)."""
        if not self.training or self.noise <= 0:
            return x
        return x * torch.bernoulli(torch.full_like(x, 1.0 - self.noise))

    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        return {"x": tensors[X_KEY], "domain": tensors[DOMAIN_KEY].reshape(-1).float()}

    def _get_generative_input(self, tensors, inference_outputs, **kwargs) -> dict[str, torch.Tensor]:
        return {"z": inference_outputs["z"], "domain": inference_outputs["domain"]}

    @auto_move_data
    def inference(self, x: torch.Tensor, domain: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embedding of every (corrupted) row by the encoder of its domain."""
        return {"z": self.encode(self._corrupt(x), domain), "domain": domain}

    @auto_move_data
    def generative(self, z: torch.Tensor, domain: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction by the decoder of each row's domain."""
        is_cell = (domain > 0.5).unsqueeze(1)
        return {"x_hat": torch.where(is_cell, self.decoders[1](z), self.decoders[0](z))}

    def loss(self, tensors, inference_outputs, generative_outputs, phase: str = "pretrain", **kwargs) -> LossOutput:
        """``"pretrain"``: reconstruction of both DAEs; ``"transfer"``: cross-entropy + ω·MMD + θ·cluster term."""
        x, z = tensors[X_KEY], inference_outputs["z"]
        is_cell = inference_outputs["domain"] > 0.5
        if phase == "pretrain":
            recon = F.mse_loss(generative_outputs["x_hat"], x)
            return LossOutput(loss=recon, reconstruction_loss=recon, n_obs_minibatch=len(x))
        ce = masked_loss(F.binary_cross_entropy_with_logits, self.predictor(z), tensors[LABELS_KEY].reshape(-1).float())
        loss, metrics = ce, {"cross_entropy": ce.detach()}
        if self.mmd_weight > 0 and is_cell.sum() > 1 and (~is_cell).sum() > 1:
            distance = mmd(z[~is_cell], z[is_cell], kernel=self.mmd_kernel)
            loss = loss + self.mmd_weight * distance
            metrics["mmd"] = distance.detach()
        if self.cluster_weight > 0 and CLUSTER_KEY in tensors:
            clusters = tensors[CLUSTER_KEY].reshape(-1).long()
            reg = cluster_cosine(z[is_cell], clusters[is_cell])
            loss = loss + self.cluster_weight * reg
            metrics["cluster"] = reg.detach()
        return LossOutput(loss=loss, extra_metrics=metrics, n_obs_minibatch=len(x))

    def encode(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """Embedding of each row by its domain's encoder (``E_g`` for bulk, ``E_t`` for cells; one if shared)."""
        if self.shared_encoder:
            return self.encoders[0](x)
        is_cell = (domain > 0.5).unsqueeze(1)
        return torch.where(is_cell, self.encoders[1](x), self.encoders[0](x))

    def predict_logits(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """Logit of sensitivity: ``P(E(x))``."""
        return self.predictor(self.encode(x, domain))
