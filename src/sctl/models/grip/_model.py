"""GRIP: conditional GAN that predicts the expression profile of drug-treated cells from their basal profile."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.data import AnnDataManager
from scvi.data.fields import CategoricalObsField, LayerField, NumericalObsField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from ..._validate import check_anndata, check_obs_key, drop_unused_categories, get_matrix, to_dense
from .._conditions import (
    aligned_matrix,
    condition_values,
    dose_values,
    encode,
    placeholder_adata,
    train_seeded,
)
from .._io import load_model, load_state, save_model
from ._module import (
    BASAL_KEY,
    CELL_KEY,
    CONDITION_INPUTS,
    DISCRIMINATORS,
    DOSE_KEY,
    DRUG_KEY,
    GENERATORS,
    X_KEY,
    GRIPModule,
)
from ._training_plan import GRIPTrainingPlan

logger = logging.getLogger(__name__)

NEW_DRUG_HINT = (
    " GRIP embeds drugs by identity and cannot predict an unseen compound; a structure-based model such as "
    "`sctl.models.CSG2A` (Bang, Koo & Kim 2025), which embeds a new compound from its SMILES, can."
)


class GRIP(UnsupervisedTrainingMixin, BaseModelClass):
    """Generative model of the response to drug-induced perturbation (GRIP-Lung, Xie et al. 2026).

    A conditional GAN maps the basal (matched-control) profile ``x`` of a cell line and a drug to the treated
    profile ``x + Δx``. The default generator is the paper's best one. The cell-line and drug embeddings
    (128 dimensions each) enter it twice, as in the paper: projected to one value per gene and added element-wise
    to the standardised basal profile (section 4.4), and concatenated into the modulation network that computes
    FiLM's ``γ, β`` (section 4.5, :class:`sctl.nn.FiLM`). The input is projected to 256 hidden units and
    modulated, then a residual block of two 256-unit ReLU layers and a linear map back to the genes give ``Δx``.
    The discriminator is a three-layer LeakyReLU MLP on the profile and the embeddings. The generator minimises
    ``adversarial + lambda_mse * MSE``; both networks are updated alternately with Adam
    (``sctl.models.grip.GRIPTrainingPlan``).

    Differences from the paper, and options
        - genes are standardised once with the training mean and standard deviation of the treated profiles
          and the same scaling is applied to the basal profiles (the paper scales input and output separately;
          on a single cell line the basal profiles barely vary, so their own scaling is undefined);
        - ``dose_key`` adds the log dose to the condition (alone and times the drug embedding), which the paper
          lists as a limitation it does not model;
        - the paper's other generators, a conditional autoencoder (``generator="cae"``) and a Transformer
          (``"transformer"``, over 8 tokens of the projected profile plus a condition token), and its 1D-CNN
          discriminator (``discriminator="cnn"``) are available; their exact sizes (Supplementary Note S1)
          were not available to us, so the sizes here are our own;
        - ``condition_input="concat"`` appends the embeddings to the input instead of adding them (the
          alternative section 4.4 sets aside because it widens the input), ``"none"`` conditions through FiLM
          only (sctl's GRIP before this option existed; models saved then load with it).

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    generator
        ``"residual"`` (FiLM + residual block), ``"cae"`` or ``"transformer"``.
    discriminator
        ``"mlp"`` or ``"cnn"``.
    condition_input
        ``"add"`` (the paper: embeddings projected to the genes and added to the input), ``"concat"`` (appended
        to the input) or ``"none"`` (FiLM only).
    n_hidden
        Hidden units of the generator.
    n_embed
        Size of the cell-line and drug embeddings.
    n_disc_hidden
        Hidden units of the discriminator's first layer.
    dropout
        Dropout rate in the generator (not given in the paper; 0.3 generalised best to held-out doses of the
        L1000 plate).
    seed
        Seed of the initial weights.

    Examples
    --------
    >>> import sctl
    >>> plate = sctl.datasets.lincs()
    >>> sctl.pp.match_controls(plate, control="DMSO")
    >>> treated = plate[~plate.obs["is_control"]].copy()
    >>> sctl.models.GRIP.setup_anndata(treated, cell_line_key="cell_line", drug_key="drug", dose_key="dose")
    >>> model = sctl.models.GRIP(treated)
    >>> model.train(max_epochs=50)  # doctest: +SKIP
    >>> model.predict(treated, drug="vemurafenib", dose=1.0).shape  # doctest: +SKIP
    (328, 978)
    """

    predicts = "profile"  # what `predict` returns, read by sctl.tl.predict_perturbation
    _module_cls = GRIPModule
    _training_plan_cls = GRIPTrainingPlan

    def __init__(
        self,
        adata: AnnData,
        generator: str = "residual",
        discriminator: str = "mlp",
        condition_input: str = "add",
        n_hidden: int = 256,
        n_embed: int = 128,
        n_disc_hidden: int = 256,
        dropout: float = 0.3,
        seed: int = 0,
    ):
        super().__init__(adata)
        if generator not in GENERATORS:
            raise ValueError(f"Unknown generator {generator!r}; choose one of {GENERATORS}.")
        if discriminator not in DISCRIMINATORS:
            raise ValueError(f"Unknown discriminator {discriminator!r}; choose one of {DISCRIMINATORS}.")
        if condition_input not in CONDITION_INPUTS:
            raise ValueError(f"Unknown condition_input {condition_input!r}; choose one of {CONDITION_INPUTS}.")
        self._model_kwargs = {
            "generator": generator,
            "discriminator": discriminator,
            "condition_input": condition_input,
            "n_hidden": n_hidden,
            "n_embed": n_embed,
            "n_disc_hidden": n_disc_hidden,
            "dropout": dropout,
            "seed": seed,
        }
        torch.manual_seed(seed)
        self.module = self._module_cls(
            n_genes=self.summary_stats.n_vars,
            n_cell_lines=len(self._categories(CELL_KEY)),
            n_drugs=len(self._categories(DRUG_KEY)),
            use_dose=self._setup_args["dose_key"] is not None,
            generator=generator,
            discriminator=discriminator,
            condition_input=condition_input,
            n_hidden=n_hidden,
            n_embed=n_embed,
            n_disc_hidden=n_disc_hidden,
            dropout=dropout,
        )
        self.module.set_scaling(*self._scaling())
        self._model_summary_string = (
            f"GRIP ({generator} generator, {discriminator} discriminator, condition input {condition_input}): "
            f"{self.summary_stats.n_vars} genes, "
            f"{len(self._categories(CELL_KEY))} cell lines, {len(self._categories(DRUG_KEY))} drugs"
        )
        self.init_params_ = self._get_init_params(locals())

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        basal_layer: str = "sctl_basal",
        cell_line_key: str | None = "cell_line",
        drug_key: str = "drug",
        dose_key: str | None = None,
        layer: str | None = None,
        **kwargs,
    ) -> None:
        """Register the treated profiles, their basal profiles and the conditions.

        Parameters
        ----------
        adata
            Profiles x genes; the treated expression in ``layer`` (``X`` by default), on a log scale.
        basal_layer
            Layer with each profile's basal (matched-control) profile, from :func:`sctl.pp.match_controls`.
        cell_line_key
            Column of ``adata.obs`` with the cell line or cell type; ``None`` for a single one.
        drug_key
            Column of ``adata.obs`` with the drug.
        dose_key
            Optional numeric column with the dose (any unit, > 0 for treated profiles); it then enters the
            condition as a log dose and is needed at prediction.
        layer
            Layer with the treated expression; ``None`` uses ``adata.X``.
        **kwargs
            Passed to :meth:`scvi.data.AnnDataManager.register_fields`.
        """
        check_anndata(adata)
        if basal_layer not in adata.layers:
            raise KeyError(
                f"No basal profiles in `adata.layers[{basal_layer!r}]`. Compute them first with "
                "`sctl.pp.match_controls(adata, control='DMSO')`."
            )
        check_obs_key(adata, drug_key)
        if cell_line_key is not None:
            check_obs_key(adata, cell_line_key)
        drop_unused_categories(adata, [drug_key, cell_line_key])  # an unused level is no drug the model knows
        if dose_key is not None:
            dose_values(adata, dose_key, None)
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = [
            LayerField(X_KEY, layer, is_count_data=False),
            LayerField(BASAL_KEY, basal_layer, is_count_data=False),
            CategoricalObsField(CELL_KEY, cell_line_key),
            CategoricalObsField(DRUG_KEY, drug_key),
        ]
        if dose_key is not None:
            fields.append(NumericalObsField(DOSE_KEY, dose_key))
        manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        manager.register_fields(adata, **kwargs)
        cls.register_manager(manager)

    def train(
        self,
        max_epochs: int = 20,
        *,
        batch_size: int = 64,
        lr: float = 1e-3,
        lambda_mse: float = 10.0,
        adversarial_weight: float = 1.0,
        train_size: float = 1.0,
        seed: int = 0,
        accelerator: str = "auto",
        **trainer_kwargs,
    ) -> None:
        """Train generator and discriminator alternately.

        Parameters
        ----------
        max_epochs
            Passes through the training profiles. The default was chosen by held-out-dose cross-validation on the
            L1000 plate (234 training profiles, 2 seeds): mean row-wise RMSE of the changes 0.782, 0.755, 0.789 and
            0.916 after 10, 20, 40 and 100 epochs (zero change 0.813, mean shift 0.781): the generator overfits
            small data after a few dozen epochs. Give ``train_size < 1`` and watch ``validation_mse`` in
            ``history`` to choose it on your data.
        batch_size
            Minibatch size.
        lr
            Adam learning rate of both networks (1e-3 in the paper).
        lambda_mse
            Weight of the MSE term of the generator's hybrid loss.
        adversarial_weight
            Weight of the adversarial term; ``0`` trains the generator as a plain regressor.
        train_size
            Fraction of profiles used for training; the rest is validation (``validation_mse`` in ``history``).
        seed
            Seed of minibatch order and dropout: the same seed gives the same model. Sets ``scvi.settings.seed``.
        accelerator
            Lightning accelerator: ``"auto"`` takes a GPU when there is one (as the transfer models do), ``"cpu"``
            forces the CPU. The trained module stays on that device; predictions come back on the CPU.
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer` (Lightning's ``Trainer``), e.g. ``devices=2`` with
            ``strategy="ddp"`` (one device by default), ``callbacks=[...]``,
            ``enable_progress_bar=False`` (the bar is on by default).
        """
        train_seeded(
            self,
            {"lr": lr, "lambda_mse": lambda_mse, "adversarial_weight": adversarial_weight},
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_size=train_size,
            seed=seed,
            accelerator=accelerator,
            trainer_kwargs=trainer_kwargs,
        )

    @property
    def drugs(self) -> list[str]:
        """Drugs the model knows."""
        return self._categories(DRUG_KEY)

    @property
    def cell_lines(self) -> list[str]:
        """Cell lines the model knows."""
        return self._categories(CELL_KEY)

    def predict(
        self,
        adata: AnnData | None = None,
        *,
        drug: str | Sequence[str] | None = None,
        dose: float | Sequence[float] | None = None,
        cell_line: str | Sequence[str] | None = None,
        return_delta: bool = False,
    ) -> pd.DataFrame:
        """Predict the treated profile of every observation from its basal profile.

        Writes nothing into ``adata``.

        Parameters
        ----------
        adata
            Profiles with the basal layer and the gene names the model was trained on; ``None`` uses the training
            data.
        drug, dose, cell_line
            Override the conditions of ``adata.obs``: one value for all observations or one per observation.
        return_delta
            Return the predicted change ``Δx`` instead of the treated profile.

        Returns
        -------
        Observations x genes, with ``adata``'s obs_names and the model's gene names.
        """
        adata = self.adata if adata is None else check_anndata(adata)
        setup = self._setup_args
        basal = aligned_matrix(adata, setup["basal_layer"], self.var_names, "GRIP")
        drugs = encode(condition_values(adata, setup["drug_key"], drug, "drug"), self.drugs, "drug", NEW_DRUG_HINT)
        if setup["cell_line_key"] is None and cell_line is None:
            cells = np.zeros(adata.n_obs, dtype=np.int64)
        else:
            values = condition_values(adata, setup["cell_line_key"], cell_line, "cell_line")
            cells = encode(values, self.cell_lines, "cell line")
        doses = None if setup["dose_key"] is None else torch.as_tensor(dose_values(adata, setup["dose_key"], dose))
        self.module.eval()
        pred = (
            self.module.predict_profiles(torch.as_tensor(basal), torch.as_tensor(cells), torch.as_tensor(drugs), doses)
            .cpu()
            .numpy()
        )
        values = pred - basal if return_delta else pred
        return pd.DataFrame(values, index=adata.obs_names.copy(), columns=pd.Index(self.var_names))

    def save(self, dir_path: str | Path, overwrite: bool = False, **kwargs) -> None:
        """Save the weights (``model_state.pt``) and settings (``model.json``); no pickled objects.

        Parameters
        ----------
        dir_path
            Directory to write to.
        overwrite
            Replace a model already saved there.
        **kwargs
            Ignored; accepted for compatibility with :meth:`scvi.model.base.BaseModelClass.save`.
        """
        meta = {
            "init": self._model_kwargs,
            "setup": self._setup_args,
            "categories": {CELL_KEY: self.cell_lines, DRUG_KEY: self.drugs},
            "var_names": list(self.var_names),
        }
        save_model(dir_path, type(self).__name__, self.module.state_dict(), meta, overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData | None = None, **kwargs) -> GRIP:
        """Load a model saved by :meth:`save` (weights read with ``weights_only=True``).

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata
            Optional data to check against the saved genes; prediction takes any AnnData anyway.
        **kwargs
            Ignored.

        Returns
        -------
        The trained model.
        """
        meta, state = load_model(dir_path, cls.__name__, required=("init", "setup", "categories", "var_names"))
        setup = meta["setup"]
        categorical = {setup["drug_key"]: meta["categories"][DRUG_KEY]}
        if setup["cell_line_key"] is not None:
            categorical[setup["cell_line_key"]] = meta["categories"][CELL_KEY]
        numeric = [setup["dose_key"]] if setup["dose_key"] is not None else []
        layers = [name for name in (setup["basal_layer"], setup["layer"]) if name is not None]
        placeholder = placeholder_adata(meta["var_names"], categorical, numeric, layers)
        cls.setup_anndata(placeholder, **setup)
        model = cls(placeholder, **{"condition_input": "none", **meta["init"]})  # saved before condition_input
        load_state(model.module, state, dir_path, "saved GRIP")
        model.is_trained_ = True
        if adata is not None:
            aligned_matrix(adata, setup["basal_layer"], model.var_names, "the saved GRIP")
        return model

    @property
    def var_names(self) -> list[str]:
        """Genes of the model, in order."""
        return list(self.adata.var_names.astype(str))

    @property
    def _setup_args(self) -> dict[str, Any]:
        return dict(self.adata_manager.registry["setup_args"])

    def _categories(self, registry_key: str) -> list[str]:
        return [str(c) for c in self.adata_manager.get_state_registry(registry_key).categorical_mapping]

    def _scaling(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        X = to_dense(get_matrix(self.adata, self._setup_args["layer"]), np.float64)
        mean, std = X.mean(0), X.std(0)
        std = np.maximum(std, max(1e-3, 0.01 * float(np.median(std))))
        dose_stats = np.array([0.0, 1.0])
        if self._setup_args["dose_key"] is not None:
            log_dose = np.log10(dose_values(self.adata, self._setup_args["dose_key"], None) + 1e-3)
            dose_stats = np.array([log_dose.mean(), max(log_dose.std(), 1e-3)])
        return tuple(torch.as_tensor(v, dtype=torch.float32) for v in (mean, std, dose_stats))
