"""GRIP: conditional GAN that predicts the expression profile of drug-treated cells from their basal profile."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.data.fields import CategoricalObsField, LayerField, NumericalObsField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from sctl._docs import doc_params
from sctl._validate import check_anndata, check_obs_key, drop_unused_categories, get_matrix
from sctl.models._base import init_settings, register_fields, train_with_preset
from sctl.models._conditions import TrainingRowsSplitter, aligned_matrix, dose_values
from sctl.models._io import SaveLoadMixin, load_state
from sctl.models.grip._data import fitted_scaling, model_inputs, saved_model_data
from sctl.models.grip._module import (
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
from sctl.models.grip._presets import INIT_PRESETS, SCALINGS, TRAIN_PRESETS
from sctl.models.grip._training_plan import GRIPTrainingPlan


@doc_params()
class GRIP(SaveLoadMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """Generative model of the response to drug-induced perturbation (GRIP-Lung, :cite:t:`xie2026griplung`).

    A conditional GAN maps the basal (matched-control) profile ``x`` of a cell line and a drug to the treated
    profile ``x + Δx``. The default generator is the paper's best one. The cell-line and drug embeddings
    (128 dimensions each) enter it twice, as in the paper: projected to one value per gene and added element-wise
    to the standardised basal profile (section 4.4), and concatenated into the modulation network that computes
    FiLM's ``γ, β`` (section 4.5, :class:`sctl.nn.FiLM`). The input is projected to 256 hidden units and
    modulated, then a residual block of two 256-unit ReLU layers and a linear map back to the genes give ``Δx``.
    The discriminator is a three-layer LeakyReLU MLP on the profile and the embeddings. The generator minimises
    ``adversarial + lambda_mse * MSE``; both networks are updated alternately with Adam
    (``sctl.models.grip.GRIPTrainingPlan``).

    ``preset="paper"`` sets every choice as the paper states it (the authors' code where it is silent);
    ``preset="sctl"`` (default) uses sctl's measured defaults. Every argument left at ``None`` takes the preset's
    value; the table of both presets, with sources, is in the methods page (``docs/methods/grip.md``).

    Options beyond the paper
        - ``scaling="shared"`` standardises basal and treated profiles with the treated profiles' training mean
          and standard deviation (the paper z-scores each separately, ``"separate"``; on a single cell line the
          basal profiles barely vary, so their own scaling is undefined);
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
    {adata_preset}
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
        Dropout rate in the generator.
    scaling
        ``"shared"`` (one gene scaling, fitted on the treated training profiles, for input and output) or
        ``"separate"`` (basal and treated profiles each z-scored with their own training statistics). Fitted
        on the training rows only when :meth:`train` runs, and saved with the model.
    seed
        Seed of the initial weights.

    Examples
    --------
    {plate_with_basal}
    >>> treated = plate[~plate.obs["is_control"]].copy()
    >>> sctl.models.GRIP.setup_anndata(treated, cell_line_key="cell_line", drug_key="drug", dose_key="dose")
    >>> model = sctl.models.GRIP(treated)  # or GRIP(treated, preset="paper")
    >>> model.train()  # doctest: +SKIP
    >>> model.predict(treated, drug="vemurafenib", dose=1.0).shape  # doctest: +SKIP
    (328, 978)
    """

    predicts = "profile"  # what `predict` returns, read by sctl.tl.predict_perturbation
    _module_cls = GRIPModule
    _training_plan_cls = GRIPTrainingPlan
    _data_splitter_cls = TrainingRowsSplitter
    _saved_fields = ("setup", "categories", "var_names")

    def __init__(
        self,
        adata: AnnData,
        preset: str = "sctl",
        generator: str | None = None,
        discriminator: str | None = None,
        condition_input: str | None = None,
        n_hidden: int | None = None,
        n_embed: int | None = None,
        n_disc_hidden: int | None = None,
        dropout: float | None = None,
        scaling: str | None = None,
        seed: int = 0,
    ):
        super().__init__(adata)
        settings = init_settings(self, INIT_PRESETS, locals())
        generator, discriminator, condition_input = (
            settings[k] for k in ("generator", "discriminator", "condition_input")
        )
        if settings["scaling"] not in SCALINGS:
            raise ValueError(f"Unknown scaling {settings['scaling']!r}; choose one of {SCALINGS}.")
        if generator not in GENERATORS:
            raise ValueError(f"Unknown generator {generator!r}; choose one of {GENERATORS}.")
        if discriminator not in DISCRIMINATORS:
            raise ValueError(f"Unknown discriminator {discriminator!r}; choose one of {DISCRIMINATORS}.")
        if condition_input not in CONDITION_INPUTS:
            raise ValueError(f"Unknown condition_input {condition_input!r}; choose one of {CONDITION_INPUTS}.")
        self._record_init_params(locals(), **settings)
        torch.manual_seed(seed)
        self.module = self._module_cls(
            n_genes=self.summary_stats.n_vars,
            n_cell_lines=len(self._categories(CELL_KEY)),
            n_drugs=len(self._categories(DRUG_KEY)),
            use_dose=self._setup_args["dose_key"] is not None,
            **{k: v for k, v in settings.items() if k != "scaling"},
        )
        self._model_summary_string = (
            f"GRIP (preset {preset}; {generator} generator, {discriminator} discriminator, condition input "
            f"{condition_input}, {settings['scaling']} scaling): {self.summary_stats.n_vars} genes, "
            f"{len(self._categories(CELL_KEY))} cell lines, {len(self._categories(DRUG_KEY))} drugs"
        )

    @classmethod
    @doc_params()
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
        {register_kwargs}
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
        if dose_key is not None:
            dose_values(adata, dose_key, None)
        get_matrix(adata, layer)
        # everything is checked: only now touch the user's obs
        drop_unused_categories(adata, [drug_key, cell_line_key])  # an unused level is no drug the model knows
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = [
            LayerField(X_KEY, layer, is_count_data=False),
            LayerField(BASAL_KEY, basal_layer, is_count_data=False),
            CategoricalObsField(CELL_KEY, cell_line_key),
            CategoricalObsField(DRUG_KEY, drug_key),
        ]
        if dose_key is not None:
            fields.append(NumericalObsField(DOSE_KEY, dose_key))
        register_fields(cls, adata, fields, setup_method_args, **kwargs)

    @doc_params()
    def train(
        self,
        max_epochs: int | None = None,
        *,
        batch_size: int | None = None,
        lr: float | None = None,
        lambda_mse: float | None = None,
        adversarial_weight: float | None = None,
        weight_decay: float | None = None,
        train_size: float = 1.0,
        early_stopping: bool = False,
        patience: int = 10,
        seed: int = 0,
        accelerator: str = "auto",
        **trainer_kwargs,
    ) -> None:
        """Fit the gene scaling on the training rows, then train generator and discriminator alternately.

        Arguments left at ``None`` take the value of the model's preset (methods page: ``docs/methods/grip.md``).
        The trained module stays on the accelerator's device; predictions come back on the CPU.

        Parameters
        ----------
        max_epochs
            Passes through the training profiles. The generator overfits small data after a few dozen epochs:
            give ``train_size < 1`` and watch ``validation_mse`` in ``history`` to choose it on your data, or let
            ``early_stopping`` stop there.
        batch_size
            Minibatch size.
        lr
            Adam learning rate of both networks.
        lambda_mse
            Weight of the MSE term of the generator's hybrid loss.
        adversarial_weight
            Weight of the adversarial term; ``0`` trains the generator as a plain regressor.
        weight_decay
            Adam weight decay of both networks.
        train_size
            Fraction of profiles used for training; the rest is validation (``validation_mse`` in ``history``).
            The gene scaling is fitted on the training fraction only.
        early_stopping
            Stop when ``validation_mse`` has not improved for ``patience`` epochs (needs ``train_size < 1``).
        patience
            Epochs without improvement before stopping.
        seed
            Seed of minibatch order and dropout: the same seed gives the same model. Sets ``scvi.settings.seed``.
        {trainer_args}
        """
        train_with_preset(
            self, TRAIN_PRESETS, locals(), datasplitter_kwargs={"on_split": self._fit_scaling}, monitor="validation_mse"
        )

    @property
    def input_scaling(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-gene mean and standard deviation that standardise the basal (input) profiles, fitted by :meth:`train`.

        :func:`sctl.tl.map_to_reference` applies them to patient profiles (``model=``), as GRIP-Lung section 4.9
        prescribes ("normalization procedures identical to those applied to the training data").
        """
        if not self.is_trained_:
            raise RuntimeError("The scaling is fitted by `train`; train the model (or load a trained one) first.")
        return self.module.basal_mean.cpu().numpy().copy(), self.module.basal_std.cpu().numpy().copy()

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
        known = {CELL_KEY: self.cell_lines, DRUG_KEY: self.drugs}
        overrides = {"drug": drug, "dose": dose, "cell_line": cell_line}
        basal, conditions = model_inputs(adata, self._setup_args, known, self.var_names, overrides)
        self.module.eval()
        pred = self.module.predict_profiles(torch.as_tensor(basal), **conditions).cpu().numpy()
        values = pred - basal if return_delta else pred
        return pd.DataFrame(values, index=adata.obs_names.copy(), columns=pd.Index(self.var_names))

    def _extra_state(self) -> dict[str, Any]:
        categories = {CELL_KEY: self.cell_lines, DRUG_KEY: self.drugs}
        return {"setup": self._setup_args, "categories": categories, "var_names": self.var_names}

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> Self:
        placeholder = saved_model_data(meta)
        cls.setup_anndata(placeholder, **meta["setup"])
        # settings missing from models saved before they existed take the values those models used
        return cls(placeholder, **{"condition_input": "none", "scaling": "shared", **meta["init"]})

    def _load_state(self, state: dict[str, torch.Tensor], path: Path) -> None:
        state = dict(state)
        for name in ("mean", "std"):  # saved before the basal scaling was separate: the shared one
            state.setdefault(f"basal_{name}", state.get(f"gene_{name}"))
        load_state(self.module, state, path, "saved GRIP")

    def _loaded_with(self, adata: AnnData) -> None:
        aligned_matrix(adata, self._setup_args["basal_layer"], self.var_names, "the saved GRIP")

    @property
    def var_names(self) -> list[str]:
        """Genes of the model, in order."""
        return list(self.adata.var_names.astype(str))

    @property
    def _setup_args(self) -> dict[str, Any]:
        return dict(self.adata_manager.registry["setup_args"])

    def _categories(self, registry_key: str) -> list[str]:
        return [str(c) for c in self.adata_manager.get_state_registry(registry_key).categorical_mapping]

    def _fit_scaling(self, train_idx: np.ndarray) -> None:
        """Fit the gene (and dose) scaling on the training rows ``train_idx`` and store it in the module."""
        separate = self.init_params_["scaling"] == "separate"
        self.module.set_scaling(**fitted_scaling(self.adata, self._setup_args, train_idx, separate))
