"""SeqPerturb: per-condition gene-change prediction from embedded categorical conditions :cite:p:`ali2024deep`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.data.fields import CategoricalJointObsField, LayerField, NumericalJointObsField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from scvi.train import TrainingPlan

from sctl._deprecation import renamed_arguments
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, check_obs_key, drop_unused_categories, get_matrix, preview
from sctl.models._base import init_settings, register_fields, train_with_preset
from sctl.models._conditions import encode, placeholder_adata
from sctl.models._io import SaveLoadMixin
from sctl.models.seqperturb._data import (
    DRUG_ID_COLUMNS,
    SMILES_COLUMNS,
    SMILES_LENGTH_KEY,
    auto_column,
    smiles_length,
    unseen_hint,
)
from sctl.models.seqperturb._module import CAT_KEY, CONT_KEY, ENCODERS, TRANSFORMER_BLOCKS, X_KEY, SeqPerturbModule
from sctl.models.seqperturb._presets import INIT_PRESETS, PAPER_TRAINING, SCTL_TRAINING

#: ``setup_anndata`` arguments before sctl 0.2.0 -> their names now, as in GRIP (models saved so still load)
RENAMED_SETUP = {"cell_type_key": "cell_line_key", "compound_key": "drug_key", "compound_id_key": "drug_id_key"}


@doc_params()
class SeqPerturb(SaveLoadMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """Predict the change of every gene under a condition from embedded condition labels :cite:p:`ali2024deep`.

    Following :cite:t:`ali2024deep` (Open Problems single-cell perturbations), each categorical condition (cell type,
    compound, compound id, SMILES string, SMILES length and any other obs keys named) is ordinally encoded and embedded
    in 16 dimensions; the embeddings form a short sequence that a sequence encoder reads (``encoder=``: ``"lstm"``,
    ``"gru"``, ``"gru3"`` (3 stacked GRUs), ``"gru_attention"`` (the paper's best), ``"transformer"`` or
    ``"autoencoder"``), followed by a dense layer (256, tanh), dropout 0.5 and one output per gene. Continuous
    conditions (``dose_key``, log-scaled, and ``continuous_keys``) are added as tokens by a linear map, an extension
    that lets the model interpolate to unseen doses.

    ``preset="paper"`` sets every choice as the paper states it, training settings per encoder as in its
    Table III; ``preset="sctl"`` (default) uses sctl's measured defaults. Every argument left at ``None`` takes
    the preset's value; both presets, with sources, are tabulated in ``docs/methods/seqperturb.md``.

    The target is any per-condition gene vector: log fold changes from :func:`sctl.pp.log_fold_change`
    (``layer="sctl_delta"``) or a DE table from :func:`sctl.pp.de_to_anndata` (the competition's signed
    -log10 p-values; ``layer=None``). The model does not see the basal profile: it predicts the same vector for
    every profile of a condition.

    Parameters
    ----------
    {adata_preset}
    encoder
        Sequence encoder, see above.
    n_embed
        Token size.
    n_dense
        Width of the dense layer (the autoencoder's head is 128 units, ReLU, unless another width is given).
    dropout
        Dropout after the dense layer.
    loss
        ``"mse"`` or ``"mae"``.
    transformer_block
        What ``encoder="transformer"`` is: ``"encoder_layer"`` (attention, feed-forward and layer norms) or
        ``"attention"`` (two-head attention alone).
    seed
        Seed of the initial weights.

    Examples
    --------
    {plate_with_delta}
    >>> sctl.models.SeqPerturb.setup_anndata(plate, layer="sctl_delta", drug_id_key="pert_id", dose_key="dose")
    >>> model = sctl.models.SeqPerturb(plate, preset="paper")  # Table III: 300 epochs, batch 20, lr 1e-3
    >>> model.train()  # doctest: +SKIP
    """

    predicts = "delta"  # what `predict` returns, read by sctl.tl.predict_perturbation
    _module_cls = SeqPerturbModule
    _training_plan_cls = TrainingPlan
    _saved_fields = ("setup", "categories", "continuous", "var_names")

    def __init__(
        self,
        adata: AnnData,
        preset: str = "sctl",
        encoder: str | None = None,
        n_embed: int | None = None,
        n_dense: int | None = None,
        dropout: float | None = None,
        loss: str | None = None,
        transformer_block: str | None = None,
        seed: int = 0,
    ):
        super().__init__(adata)
        settings = init_settings(self, INIT_PRESETS, locals())
        encoder = settings["encoder"]
        if encoder not in ENCODERS:
            raise ValueError(f"Unknown encoder {encoder!r}; choose one of {ENCODERS}.")
        if settings["loss"] not in ("mse", "mae"):
            raise ValueError(f"Unknown loss {settings['loss']!r}; choose 'mse' or 'mae'.")
        if settings["transformer_block"] not in TRANSFORMER_BLOCKS:
            raise ValueError(
                f"Unknown transformer_block {settings['transformer_block']!r}; choose one of {TRANSFORMER_BLOCKS}."
            )
        self._record_init_params(locals(), **settings)
        torch.manual_seed(seed)
        continuous = self._continuous_keys
        self.module = self._module_cls(
            n_genes=self.summary_stats.n_vars,
            n_categories=[len(c) for c in self.categories.values()],
            n_continuous=len(continuous),
            log_continuous=[key == self._setup_args["dose_key"] for key in continuous],
            **settings,
        )
        if continuous:
            values = self.module.transform_continuous(torch.as_tensor(self._continuous_matrix(self.adata.obs)))
            stats = torch.stack([values.mean(0), values.std(0).clamp_min(1e-3)])
            self.module.continuous_stats.copy_(stats)
        self._model_summary_string = (
            f"SeqPerturb (preset {preset}; {encoder}): {self.summary_stats.n_vars} genes, tokens "
            f"{list(self.categories)} + {continuous}"
        )

    @classmethod
    @renamed_arguments(**RENAMED_SETUP)
    @doc_params()
    def setup_anndata(
        cls,
        adata: AnnData,
        layer: str | None = "sctl_delta",
        cell_line_key: str | None = "cell_line",
        drug_key: str = "drug",
        drug_id_key: str | None = "auto",
        smiles_key: str | None = "auto",
        extra_keys: Sequence[str] = (),
        dose_key: str | None = None,
        continuous_keys: Sequence[str] = (),
        **kwargs,
    ) -> None:
        """Register the target gene vectors and the conditions.

        Parameters
        ----------
        adata
            Observations (profiles or (cell type, compound) pairs) x genes.
        layer
            Layer with the targets (``"sctl_delta"`` from :func:`sctl.pp.log_fold_change`); ``None`` uses ``X``
            (e.g. a DE table from :func:`sctl.pp.de_to_anndata`).
        cell_line_key, drug_key, drug_id_key, smiles_key
            Columns of ``adata.obs`` with the cell line (or type), the drug name, its id and its SMILES string:
            with the SMILES length (column ``"sctl_smiles_length"`` of ``adata.obs``, added by ``smiles_key``), the
            paper's five tokens. ``"auto"`` takes the first column present among
            ``sm_lincs_id, pert_id, compound_id, drug_id`` (id) and ``SMILES, smiles, canonical_smiles``; a
            warning says when it finds none. ``None`` leaves the token out.
        extra_keys
            Further categorical columns, each one more token.
        dose_key
            Numeric column with the dose; a log-scaled continuous token.
        continuous_keys
            Further numeric columns, each a standardised continuous token.
        {register_kwargs}
        """
        check_anndata(adata)
        drug_id_key = auto_column(
            adata, drug_id_key, DRUG_ID_COLUMNS, "drug id", {cell_line_key, drug_key, *extra_keys}
        )
        smiles_key = auto_column(adata, smiles_key, SMILES_COLUMNS, "SMILES", {cell_line_key, drug_key, *extra_keys})
        setup_method_args = cls._get_setup_method_args(**locals())  # the columns "auto" found, not "auto"
        check_finite(get_matrix(adata, layer), f"the target `{layer or 'X'}`")
        categorical = [k for k in (cell_line_key, drug_key, drug_id_key, smiles_key) if k is not None]
        categorical += list(extra_keys)
        continuous = ([dose_key] if dose_key else []) + list(continuous_keys)
        for key in [*categorical, *continuous]:
            check_obs_key(adata, key)
        for key in categorical:
            if adata.obs[key].isna().any():
                raise ValueError(f"`adata.obs[{key!r}]` has missing values; fill them (e.g. with 'unknown').")
        for key in continuous:
            if not np.isfinite(pd.to_numeric(adata.obs[key], errors="coerce").to_numpy(dtype=float)).all():
                raise ValueError(f"`adata.obs[{key!r}]` must be numeric without missing values.")
        # everything is checked: only now write to the user's obs
        if smiles_key is not None:
            adata.obs[SMILES_LENGTH_KEY] = smiles_length(adata.obs[smiles_key])
            categorical.append(SMILES_LENGTH_KEY)
        for key in categorical:
            if not isinstance(adata.obs[key].dtype, pd.CategoricalDtype):
                adata.obs[key] = pd.Categorical(adata.obs[key].astype(str))
        drop_unused_categories(adata, categorical)  # an unused level is no condition the model knows
        fields = [LayerField(X_KEY, layer, is_count_data=False), CategoricalJointObsField(CAT_KEY, categorical)]
        if continuous:
            fields.append(NumericalJointObsField(CONT_KEY, continuous))
        register_fields(cls, adata, fields, setup_method_args, **kwargs)

    @doc_params()
    def train(
        self,
        max_epochs: int | None = None,
        *,
        batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        train_size: float = 1.0,
        early_stopping: bool = False,
        patience: int = 10,
        seed: int = 0,
        accelerator: str = "auto",
        **trainer_kwargs,
    ) -> None:
        """Train with Adam on the MSE (or MAE) of the gene vectors.

        Arguments left at ``None`` take the value of the model's preset; under ``"paper"`` they depend on the
        encoder :cite:p:`ali2024deep{Table III}`. The trained module stays on the accelerator's device; predictions
        come back on the CPU.

        Parameters
        ----------
        max_epochs
            Passes through the data.
        batch_size
            Minibatch size.
        lr
            Adam learning rate.
        weight_decay
            Adam weight decay.
        {validation_args}
        seed
            Seed of minibatch order and dropout (sets ``scvi.settings.seed``).
        {trainer_args}
        """
        paper = {**PAPER_TRAINING[self.init_params_["encoder"]], "weight_decay": 0.0}
        train_with_preset(self, {"sctl": SCTL_TRAINING, "paper": paper}, locals(), plan_kwargs={"eps": 1e-8})

    @property
    def categories(self) -> dict[str, list[str]]:
        """Known values of every categorical condition, in token order."""
        registry = self.adata_manager.get_state_registry(CAT_KEY)
        # the code tensor's columns follow `field_keys`; `mappings` may come back in another (sorted) key order
        return {key: [str(v) for v in registry["mappings"][key]] for key in registry["field_keys"]}

    @property
    def var_names(self) -> list[str]:
        """Genes (outputs) of the model, in order."""
        return list(self.adata.var_names.astype(str))

    def predict(
        self,
        adata: AnnData | pd.DataFrame | None = None,
        *,
        drug: str | Sequence[str] | None = None,
        dose: float | Sequence[float] | None = None,
        conditions: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Predict the gene vector of every observation's condition; writes nothing.

        Parameters
        ----------
        adata
            AnnData whose ``obs`` holds the conditions, or a DataFrame of conditions (one row each); ``None``
            uses the training data.
        drug, dose
            Override the compound and the dose (one value, or one per row).
        conditions
            Override any other condition column, e.g. ``{"cell_line": "A375"}``.

        Returns
        -------
        Rows x genes with the row names of ``adata`` and the model's gene names.
        """
        obs = self._conditions_frame(adata, drug, dose, conditions)
        codes = np.column_stack(
            [
                encode(obs[key].astype(str), known, f"value of {key!r}", unseen_hint(key, self._setup_args))
                for key, known in self.categories.items()
            ]
        )
        continuous = torch.as_tensor(self._continuous_matrix(obs)) if self._continuous_keys else None
        self.module.eval()
        pred = self.module.predict_values(torch.as_tensor(codes), continuous).cpu().numpy()
        return pd.DataFrame(pred, index=obs.index.copy(), columns=pd.Index(self.var_names))

    def _extra_state(self) -> dict[str, Any]:
        return {
            "setup": self._setup_args,
            "categories": self.categories,
            "continuous": self._continuous_keys,
            "var_names": self.var_names,
        }

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> Self:
        categorical = {k: v for k, v in meta["categories"].items() if k != SMILES_LENGTH_KEY}
        placeholder = placeholder_adata(meta["var_names"], categorical, meta["continuous"], [])
        setup = {RENAMED_SETUP.get(k, k): v for k, v in meta["setup"].items()}
        cls.setup_anndata(placeholder, **{**setup, "layer": None})
        model = cls(placeholder, **meta["init"])
        if model.categories != meta["categories"]:
            raise ValueError("Could not rebuild the conditions of the saved SeqPerturb; save the model again.")
        return model

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        # the placeholder was registered without the target layer; setups saved before 0.2.0 use the old names
        self._saved_setup = {RENAMED_SETUP.get(k, k): v for k, v in meta["setup"].items()}

    @property
    def _setup_args(self) -> dict[str, Any]:
        return getattr(self, "_saved_setup", None) or dict(self.adata_manager.registry["setup_args"])

    @property
    def _continuous_keys(self) -> list[str]:
        if CONT_KEY not in self.adata_manager.data_registry:
            return []
        return list(self.adata_manager.get_state_registry(CONT_KEY)["columns"])

    def _continuous_matrix(self, obs: pd.DataFrame) -> np.ndarray:
        columns = []
        for key in self._continuous_keys:
            if key not in obs.columns:
                raise KeyError(f"The model needs the numeric condition {key!r}: add the column or pass it (`dose=`).")
            values = pd.to_numeric(obs[key], errors="coerce").to_numpy(dtype=np.float32)
            if not np.isfinite(values).all():
                raise ValueError(f"Condition {key!r} has missing or non-numeric values.")
            columns.append(values)
        return np.column_stack(columns).astype(np.float32)

    def _conditions_frame(
        self, adata: AnnData | pd.DataFrame | None, drug: Any, dose: Any, conditions: dict[str, Any] | None
    ) -> pd.DataFrame:
        if adata is None:
            adata = self.adata
        obs = adata.copy() if isinstance(adata, pd.DataFrame) else check_anndata(adata).obs.copy()
        setup = self._setup_args
        overrides = dict(conditions or {})
        if drug is not None:
            overrides[setup["drug_key"]] = drug
        if dose is not None:
            if setup["dose_key"] is None:
                raise ValueError("This model was set up without `dose_key`, so it cannot take `dose=`.")
            overrides[setup["dose_key"]] = dose
        for key, value in overrides.items():
            obs[key] = value if np.ndim(value) == 0 else np.asarray(value)
        if setup.get("smiles_key") is not None and setup["smiles_key"] in obs.columns:
            obs[SMILES_LENGTH_KEY] = smiles_length(obs[setup["smiles_key"]])
        missing = [key for key in self.categories if key not in obs.columns]
        if missing:
            raise KeyError(
                f"The conditions lack the columns {preview(missing)} the model was trained on; add them or pass "
                "them in `conditions=`."
            )
        return obs
