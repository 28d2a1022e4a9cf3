"""Torch module of SeqPerturb: embedded conditions as a short sequence, a sequence encoder, one output per gene."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn

X_KEY = "X"
CAT_KEY = "conditions"
CONT_KEY = "continuous"

ENCODERS = ("lstm", "gru", "gru3", "gru_attention", "transformer", "autoencoder")
#: what ``encoder="transformer"`` is: a full encoder layer (attention, feed-forward, norms) or the attention alone
TRANSFORMER_BLOCKS = ("encoder_layer", "attention")


class StackedRNN(nn.Module):
    """Recurrent layers of the given widths, one after the other; returns all steps of the last one."""

    def __init__(self, cell: type[nn.RNNBase], n_input: int, widths: tuple[int, ...]):
        super().__init__()
        sizes = (n_input, *widths)
        self.layers = nn.ModuleList(cell(a, b, batch_first=True) for a, b in itertools.pairwise(sizes))
        self.n_output = widths[-1]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            tokens, _ = layer(tokens)
        return tokens


class AttentionPool(nn.Module):
    """Additive attention over time steps :cite:p:`bahdanau2015attention`: ``softmax(v·tanh(W h_t))``-weighted sum."""

    def __init__(self, n_features: int):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(n_features, n_features), nn.Tanh(), nn.Linear(n_features, 1))

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(steps), dim=1)
        return (weights * steps).sum(dim=1)


class SequenceEncoder(nn.Module):
    """Encoder of the condition sequence ``(batch, n_tokens, n_embed)`` into one vector.

    The encoders of :cite:t:`ali2024deep{Table III}`. ``"lstm"``: LSTM(16), last step; ``"gru"``: GRU(128), last step;
    ``"gru3"``: three stacked GRUs (128, 128, 64), last step; ``"gru_attention"``: the same stack pooled by additive
    attention; ``"transformer"``: two-head self-attention, flattened (a full encoder layer, or with
    ``transformer_block="attention"`` the multi-head attention layer alone, as the paper's table lists it);
    ``"autoencoder"``: dense 256-64 encoder and 64-256 decoder on the flattened tokens.
    """

    def __init__(self, kind: str, n_tokens: int, n_embed: int, transformer_block: str = "encoder_layer"):
        super().__init__()
        self.kind = kind
        if kind == "lstm":
            self.net = StackedRNN(nn.LSTM, n_embed, (16,))
        elif kind == "gru":
            self.net = StackedRNN(nn.GRU, n_embed, (128,))
        elif kind in ("gru3", "gru_attention"):
            self.net = StackedRNN(nn.GRU, n_embed, (128, 128, 64))
            self.pool = AttentionPool(64) if kind == "gru_attention" else None
        elif kind == "transformer" and transformer_block == "attention":
            self.net = nn.MultiheadAttention(n_embed, num_heads=2, batch_first=True)
        elif kind == "transformer":
            self.net = nn.TransformerEncoderLayer(
                n_embed, nhead=2, dim_feedforward=4 * n_embed, dropout=0.1, batch_first=True
            )
        else:
            self.net = nn.Sequential(
                nn.Flatten(),
                nn.Linear(n_tokens * n_embed, 256),
                nn.ReLU(),
                nn.Linear(256, 64),
                nn.ReLU(),
                nn.Linear(64, 64),
                nn.ReLU(),
                nn.Linear(64, 256),
                nn.ReLU(),
            )
        sizes = {"lstm": 16, "gru": 128, "gru3": 64, "gru_attention": 64, "transformer": n_tokens * n_embed}
        self.n_output = sizes.get(kind, 256)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.kind in ("lstm", "gru", "gru3"):
            return self.net(tokens)[:, -1]
        if self.kind == "gru_attention":
            return self.pool(self.net(tokens))
        if isinstance(self.net, nn.MultiheadAttention):
            return self.net(tokens, tokens, tokens, need_weights=False)[0].flatten(1)
        if self.kind == "transformer":
            return self.net(tokens).flatten(1)
        return self.net(tokens)


class SeqPerturbModule(BaseModuleClass):
    """Embeddings (one per condition) -> sequence encoder -> dense -> dropout -> one output per gene.

    Parameters
    ----------
    n_genes
        Number of outputs.
    n_categories
        Vocabulary size of each categorical condition.
    n_continuous
        Number of continuous conditions (each mapped to a token by its own linear layer).
    encoder
        One of :data:`ENCODERS`.
    n_embed
        Token size (16 in the paper).
    n_dense
        Width of the dense layer (256, tanh; 128, ReLU for the autoencoder in the paper).
    dropout
        Dropout after the dense layer (0.5 in the paper).
    loss
        ``"mse"`` or ``"mae"``.
    log_continuous
        Which continuous conditions are log-scaled (doses).
    transformer_block
        ``"encoder_layer"`` or ``"attention"``, see :class:`SequenceEncoder`.
    """

    def __init__(
        self,
        n_genes: int,
        n_categories: list[int],
        n_continuous: int = 0,
        *,
        encoder: str = "gru_attention",
        n_embed: int = 16,
        n_dense: int = 256,
        dropout: float = 0.5,
        loss: str = "mse",
        log_continuous: list[bool] | None = None,
        transformer_block: str = "encoder_layer",
    ):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(n, n_embed) for n in n_categories)
        self.continuous = nn.ModuleList(nn.Linear(1, n_embed) for _ in range(n_continuous))
        n_tokens = len(n_categories) + n_continuous
        self.encoder = SequenceEncoder(encoder, n_tokens, n_embed, transformer_block)
        activation = nn.ReLU() if encoder == "autoencoder" else nn.Tanh()
        n_dense = 128 if encoder == "autoencoder" and n_dense == 256 else n_dense
        self.head = nn.Sequential(nn.Linear(self.encoder.n_output, n_dense), activation, nn.Dropout(dropout))
        self.out = nn.Linear(n_dense, n_genes)
        self.loss_kind = loss
        self.register_buffer("continuous_stats", torch.zeros(2, max(n_continuous, 1)))
        self.continuous_stats[1] = 1.0
        log_mask = torch.zeros(max(n_continuous, 1), dtype=torch.bool)
        log_mask[: len(log_continuous or [])] = torch.as_tensor(log_continuous or [], dtype=torch.bool)
        self.register_buffer("log_mask", log_mask)

    def transform_continuous(self, continuous: torch.Tensor) -> torch.Tensor:
        """``log10(x + 1e-3)`` for the log-scaled conditions (doses), the raw value for the others."""
        continuous = continuous.float()
        return torch.where(
            self.log_mask[: continuous.shape[1]], torch.log10(continuous.clamp_min(0) + 1e-3), continuous
        )

    def tokens(self, codes: torch.Tensor, continuous: torch.Tensor | None) -> torch.Tensor:
        """The condition sequence ``(batch, n_tokens, n_embed)``."""
        tokens = [emb(codes[:, i].long()) for i, emb in enumerate(self.embeddings)]
        if len(self.continuous):
            scaled = (self.transform_continuous(continuous) - self.continuous_stats[0]) / self.continuous_stats[1]
            tokens += [lin(scaled[:, i : i + 1]) for i, lin in enumerate(self.continuous)]
        return torch.stack(tokens, dim=1)

    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        return {"codes": tensors[CAT_KEY], "continuous": tensors.get(CONT_KEY)}

    @auto_move_data
    def inference(self, codes, continuous=None) -> dict[str, torch.Tensor]:
        """Encode the condition sequence."""
        return {"h": self.head(self.encoder(self.tokens(codes, continuous)))}

    def _get_generative_input(self, tensors, inference_outputs) -> dict[str, torch.Tensor]:
        return {"h": inference_outputs["h"]}

    @auto_move_data
    def generative(self, h) -> dict[str, torch.Tensor]:
        """One value per gene."""
        return {"pred": self.out(h)}

    def loss(self, tensors, inference_outputs, generative_outputs) -> LossOutput:
        """Mean squared (or absolute) error over genes, averaged over the minibatch."""
        target, pred = tensors[X_KEY], generative_outputs["pred"]
        if self.loss_kind == "mae":
            per_obs = F.l1_loss(pred, target, reduction="none").mean(-1)
        else:
            per_obs = F.mse_loss(pred, target, reduction="none").mean(-1)
        return LossOutput(loss=per_obs.mean(), reconstruction_loss=per_obs)

    @torch.inference_mode()
    def predict_values(self, codes: torch.Tensor, continuous: torch.Tensor | None) -> torch.Tensor:
        """Predicted gene vector of each condition."""
        return self.generative(self.inference(codes, continuous)["h"])["pred"]
