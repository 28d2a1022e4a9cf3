"""Torch module of GRIP: conditional generators and discriminators of drug-induced expression profiles."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn

from sctl.nn._film import FiLM, ResidualBlock

X_KEY = "X"
BASAL_KEY = "basal"
CELL_KEY = "cell_line"
DRUG_KEY = "drug"
DOSE_KEY = "dose"

GENERATORS = ("residual", "cae", "transformer")
DISCRIMINATORS = ("mlp", "cnn")
CONDITION_INPUTS = ("add", "concat", "none")


class ResidualGenerator(nn.Module):
    """GRIP-Lung's generator: projection to ``n_hidden``, FiLM from the condition, a residual block, ``Δx``."""

    def __init__(self, n_genes: int, n_condition: int, n_hidden: int, dropout: float, n_input: int | None = None):
        super().__init__()
        self.project = nn.Linear(n_input or n_genes, n_hidden)
        self.film = FiLM(n_condition, n_hidden, n_hidden=n_hidden)
        self.block = ResidualBlock(n_hidden, dropout=dropout)
        self.out = nn.Linear(n_hidden, n_genes)

    def forward(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        h = self.film(F.relu(self.project(basal)), condition)
        return self.out(self.block(h))


class ConditionalAEGenerator(nn.Module):
    """Conditional autoencoder: encoder to a latent code, decoder of ``[code, condition]`` to ``Δx``."""

    #: size of the latent code
    n_latent: ClassVar[int] = 64

    def __init__(self, n_genes: int, n_condition: int, n_hidden: int, dropout: float, n_input: int | None = None):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_input or n_genes, n_hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(n_hidden, self.n_latent)
        )
        self.decoder = nn.Sequential(
            nn.Linear(self.n_latent + n_condition, n_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(n_hidden, n_genes),
        )

    def forward(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([self.encoder(basal), condition], dim=-1))


class TransformerGenerator(nn.Module):
    """Transformer encoder over ``n_tokens`` chunks of the projected profile plus one condition token."""

    #: number of chunks the projected profile is cut into
    n_tokens: ClassVar[int] = 8

    def __init__(self, n_genes: int, n_condition: int, n_hidden: int, dropout: float, n_input: int | None = None):
        super().__init__()
        if n_hidden % self.n_tokens:
            raise ValueError(f"`n_hidden` ({n_hidden}) must be a multiple of {self.n_tokens} for the transformer.")
        self.d_model = n_hidden // self.n_tokens
        self.project = nn.Linear(n_input or n_genes, n_hidden)
        self.condition = nn.Linear(n_condition, self.d_model)
        self.position = nn.Parameter(torch.zeros(1, self.n_tokens + 1, self.d_model))
        layer = nn.TransformerEncoderLayer(
            self.d_model, nhead=2, dim_feedforward=2 * self.d_model, dropout=dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.out = nn.Linear((self.n_tokens + 1) * self.d_model, n_genes)

    def forward(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        tokens = self.project(basal).view(-1, self.n_tokens, self.d_model)
        tokens = torch.cat([self.condition(condition).unsqueeze(1), tokens], dim=1) + self.position
        return self.out(self.encoder(tokens).flatten(1))


class MLPDiscriminator(nn.Module):
    """GRIP-Lung's lightweight discriminator: three LeakyReLU layers on ``[profile, condition]``, one logit."""

    def __init__(self, n_genes: int, n_condition: int, n_hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_genes + n_condition, n_hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(n_hidden, n_hidden // 2),
            nn.LeakyReLU(0.2),
            nn.Linear(n_hidden // 2, n_hidden // 4),
            nn.LeakyReLU(0.2),
            nn.Linear(n_hidden // 4, 1),
        )

    def forward(self, profile: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([profile, condition], dim=-1))


class CNNDiscriminator(nn.Module):
    """1D-CNN discriminator: two strided convolutions over the gene axis, pooled, joined with the condition."""

    def __init__(self, n_genes: int, n_condition: int, n_hidden: int, n_pool: int = 32):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(1, 8, kernel_size=7, stride=3, padding=3),
            nn.LeakyReLU(0.2),
            nn.Conv1d(8, 16, kernel_size=5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool1d(n_pool),
        )
        self.head = nn.Sequential(
            nn.Linear(16 * n_pool + n_condition, n_hidden), nn.LeakyReLU(0.2), nn.Linear(n_hidden, 1)
        )

    def forward(self, profile: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        features = self.conv(profile.unsqueeze(1)).flatten(1)
        return self.head(torch.cat([features, condition], dim=-1))


class GRIPModule(BaseModuleClass):
    """Conditional GAN on standardised profiles: generator ``basal + Δx``, conditional discriminator.

    Profiles are standardised gene by gene with the training mean and standard deviation: the basal (input)
    profiles with ``basal_mean`` / ``basal_std``, the treated (output) profiles with ``gene_mean`` / ``gene_std``
    (the same values under shared scaling). The generator works in these units and :meth:`predict_profiles` maps
    its output back with the output scaling.

    Parameters
    ----------
    n_genes, n_cell_lines, n_drugs
        Sizes of the gene vector and of the two vocabularies.
    use_dose
        Whether the condition includes the standardised log dose (alone and times the drug embedding).
    generator, discriminator
        ``"residual"`` / ``"cae"`` / ``"transformer"`` and ``"mlp"`` / ``"cnn"``.
    condition_input
        How the cell-line and drug embeddings also enter the generator's input (GRIP-Lung section 4.4):
        ``"add"`` projects them to one value per gene and adds them element-wise to the standardised basal profile
        (the paper); ``"concat"`` appends them to the input; ``"none"`` leaves the input alone (FiLM only).
    n_hidden, n_embed, n_disc_hidden, dropout
        Widths and dropout rate.
    """

    def __init__(
        self,
        n_genes: int,
        n_cell_lines: int,
        n_drugs: int,
        *,
        use_dose: bool = False,
        generator: str = "residual",
        discriminator: str = "mlp",
        condition_input: str = "add",
        n_hidden: int = 256,
        n_embed: int = 128,
        n_disc_hidden: int = 256,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.use_dose = use_dose
        self.condition_input = condition_input
        self.cell_embedding = nn.Embedding(n_cell_lines, n_embed)
        self.drug_embedding = nn.Embedding(n_drugs, n_embed)
        n_condition = 2 * n_embed + (n_embed + 1 if use_dose else 0)
        generator_cls = {
            "residual": ResidualGenerator,
            "cae": ConditionalAEGenerator,
            "transformer": TransformerGenerator,
        }
        discriminator_cls = {"mlp": MLPDiscriminator, "cnn": CNNDiscriminator}
        self.n_embed = n_embed
        n_input = n_genes + 2 * n_embed if condition_input == "concat" else n_genes
        self.generator = generator_cls[generator](n_genes, n_condition, n_hidden, dropout, n_input=n_input)
        # one linear map of [cell, drug] = the sum of the two per-embedding projections of section 4.4
        self.input_embedding = nn.Linear(2 * n_embed, n_genes) if condition_input == "add" else None
        self.discriminator = discriminator_cls[discriminator](n_genes, n_condition, n_disc_hidden)
        # output (treated) scaling and input (basal) scaling; the same values unless scaled separately
        for name in ("gene_mean", "basal_mean"):
            self.register_buffer(name, torch.zeros(n_genes))
        for name in ("gene_std", "basal_std"):
            self.register_buffer(name, torch.ones(n_genes))
        self.register_buffer("dose_stats", torch.tensor([0.0, 1.0]))

    def set_scaling(
        self,
        gene_mean: torch.Tensor,
        gene_std: torch.Tensor,
        dose_stats: torch.Tensor,
        basal_mean: torch.Tensor | None = None,
        basal_std: torch.Tensor | None = None,
    ) -> None:
        """Store the standardisation learnt on the training profiles (input = output scaling unless given)."""
        self.gene_mean.copy_(gene_mean)
        self.gene_std.copy_(gene_std)
        self.basal_mean.copy_(gene_mean if basal_mean is None else basal_mean)
        self.basal_std.copy_(gene_std if basal_std is None else basal_std)
        self.dose_stats.copy_(dose_stats)

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """Treated profiles in standard units of the training data (the output scaling)."""
        return (x - self.gene_mean) / self.gene_std

    def standardize_input(self, basal: torch.Tensor) -> torch.Tensor:
        """Basal profiles in standard units of the training data (the input scaling)."""
        return (basal - self.basal_mean) / self.basal_std

    def condition(self, cell: torch.Tensor, drug: torch.Tensor, dose: torch.Tensor | None) -> torch.Tensor:
        """Condition vector ``[cell, drug(, drug * log dose, log dose)]`` from codes and raw doses."""
        cell_e = self.cell_embedding(cell.long().view(-1))
        drug_e = self.drug_embedding(drug.long().view(-1))
        parts = [cell_e, drug_e]
        if self.use_dose:
            log_dose = (torch.log10(dose.view(-1, 1).float() + 1e-3) - self.dose_stats[0]) / self.dose_stats[1]
            parts += [drug_e * log_dose, log_dose]
        return torch.cat(parts, dim=-1)

    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        return {
            "basal": tensors[BASAL_KEY],
            "cell": tensors[CELL_KEY],
            "drug": tensors[DRUG_KEY],
            "dose": tensors.get(DOSE_KEY),
        }

    @auto_move_data
    def inference(self, basal, cell, drug, dose=None) -> dict[str, torch.Tensor]:
        """Standardised basal profile and condition vector."""
        return {"basal_z": self.standardize_input(basal), "condition": self.condition(cell, drug, dose)}

    def _get_generative_input(self, tensors, inference_outputs) -> dict[str, torch.Tensor]:
        return {"basal_z": inference_outputs["basal_z"], "condition": inference_outputs["condition"]}

    def generator_input(self, basal_z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """The generator's input: the basal profile with the cell-line and drug embeddings added, appended or not."""
        embeddings = condition[:, : 2 * self.n_embed]  # [cell, drug]; the dose terms reach the generator by FiLM
        if self.condition_input == "add":
            return basal_z + self.input_embedding(embeddings)
        if self.condition_input == "concat":
            return torch.cat([basal_z, embeddings], dim=-1)
        return basal_z

    @auto_move_data
    def generative(self, basal_z, condition) -> dict[str, torch.Tensor]:
        """Predicted treated profile in standard units: ``basal_z + Δx``."""
        return {"pred_z": basal_z + self.generator(self.generator_input(basal_z, condition), condition)}

    def loss(self, tensors, inference_outputs, generative_outputs) -> LossOutput:
        """MSE of the predicted profile (standard units); used for validation and by the training plan."""
        target = self.standardize(tensors[X_KEY])
        mse = F.mse_loss(generative_outputs["pred_z"], target, reduction="none").mean(-1)
        return LossOutput(loss=mse.mean(), reconstruction_loss=mse)

    def discriminate(self, profile_z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Logit that a standardised profile is a real one under ``condition``."""
        return self.discriminator(profile_z, condition)

    @torch.inference_mode()
    def predict_profiles(
        self, basal: torch.Tensor, cell: torch.Tensor, drug: torch.Tensor, dose: torch.Tensor | None
    ) -> torch.Tensor:
        """Predicted treated profiles on the original scale."""
        inference = self.inference(basal, cell, drug, dose)
        pred_z = self.generative(inference["basal_z"], inference["condition"])["pred_z"]
        return pred_z * self.gene_std + self.gene_mean
