"""The surface shared by the transfer models: registration, phased training, streamed prediction, save / load."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.data import AnnDataManager
from scvi.data.fields import LayerField, NumericalObsField
from scvi.model.base import BaseModelClass

from sctl._constants import LABEL_KEY, RESPONSE_CATEGORIES, SENSITIVE
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, check_obs_key, check_var_names, get_matrix, preview
from sctl.models._io import SaveLoadMixin
from sctl.models._presets import check_preset
from sctl.models._transfer._data import _DOMAIN_CODE, _TARGET, BULK, CELLS, DOMAIN_KEY, TRANSFER_KEY, transfer_data
from sctl.models._transfer._predict import StreamedPredictionMixin
from sctl.models._transfer._training import PhasedTrainingMixin

X_KEY, DOMAIN_REG, LABELS_REG = "X", "sctl_domain_code", "sctl_target"


def cell_rows(domain: pd.Series, domain_key: str, bulk_value: str) -> np.ndarray:
    """Whether each row is a cell (its domain is not ``bulk_value``); an error unless both domains are present."""
    is_cell = (domain.astype(str) != str(bulk_value)).to_numpy()
    if is_cell.all() or not is_cell.any():
        raise ValueError(
            f"`adata.obs[{domain_key!r}]` must mark both bulk rows ({bulk_value!r}) and cells; found only "
            f"{preview(domain.astype(str).unique(), 3)}."
        )
    return is_cell


class DomainDataMixin:
    """Registration of an AnnData of bulk lines and cells, the setup arguments and genes it gives the model."""

    @classmethod
    def _register(
        cls, adata: AnnData, setup_method_args: dict, layer: str | None, targets: list[Any], **kwargs: Any
    ) -> None:
        """Register the expression ``layer``, the domain code written in ``adata.obs`` and the ``targets`` fields."""
        fields = [LayerField(X_KEY, layer, is_count_data=False), NumericalObsField(DOMAIN_REG, _DOMAIN_CODE)]
        manager = AnnDataManager(fields=[*fields, *targets], setup_method_args=setup_method_args)
        manager.register_fields(adata, **kwargs)
        cls.register_manager(manager)

    @property
    def _setup_args(self) -> dict[str, Any]:
        return dict(self.adata_manager.registry["setup_args"])

    @property
    def var_names(self) -> pd.Index:
        """Genes of the model, in order."""
        return pd.Index(self.adata.var_names.astype(str))

    def _loaded_with(self, adata: AnnData) -> None:
        """Check that the data given to :meth:`load` holds the saved model's genes."""
        check_var_names(adata, self.var_names, what=f"the saved {type(self).__name__}")


class TransferModel(DomainDataMixin, SaveLoadMixin, PhasedTrainingMixin, StreamedPredictionMixin, BaseModelClass):
    """Base of the bulk-to-single-cell models: registration, phased training, prediction, safe save / load.

    Subclasses build ``self.module`` (with ``encode(x, domain)``, ``predict_logits(x, domain)`` and a
    ``loss(..., phase=...)``), list their training ``_phases`` and the plan keyword arguments of each, and record
    their constructor's arguments with ``_record_init_params`` (what :meth:`save` writes).
    """

    #: arguments of :func:`transfer_data` each preset gives :meth:`from_reference` (the user's win)
    _data_presets: ClassVar[dict[str, dict[str, Any]]] = {"sctl": {}, "paper": {}}
    _saved_fields = ("setup", "var_names")

    def __init__(self, adata: AnnData) -> None:
        super().__init__(adata)
        params = adata.uns.get(TRANSFER_KEY, {}).get("params", {})
        #: whether the training rows were z-scored profile by profile (``transfer_data(standardize_rows=True)``),
        #: so that new cells must be too
        self.standardize_rows_ = bool(params.get("standardize_rows", False))

    def _check_data_preset(self, preset: str) -> None:
        """Warn when :func:`transfer_data` prepared the data otherwise than ``preset`` would (the user's call)."""
        params = self.adata.uns.get(TRANSFER_KEY, {}).get("params")
        if not params:
            return
        differ = {name: value for name, value in self._data_presets[preset].items() if params.get(name) != value}
        if preset != "sctl" and differ:
            found = {name: params.get(name) for name in differ}
            warnings.warn(
                f"{type(self).__name__}(preset={preset!r}): the data was prepared with {found}, the preset's "
                f"preparation is {differ} (pass them to `transfer_data`, or use `{type(self).__name__}."
                "from_reference`, which applies them).",
                UserWarning,
                stacklevel=3,
            )

    # -------------------------------------------------------------- setup
    @classmethod
    @doc_params()
    def setup_anndata(
        cls,
        adata: AnnData,
        domain_key: str = DOMAIN_KEY,
        labels_key: str = LABEL_KEY,
        layer: str | None = None,
        bulk_value: str = BULK,
        **kwargs: Any,
    ) -> None:
        """Register the expression, the domain of each row and the bulk labels.

        Parameters
        ----------
        adata
            Output of :func:`sctl.models.transfer_data`, or any AnnData of bulk and cells, z-scored per domain.
            Two numeric columns are added to ``adata.obs`` (``_sctl_domain_code``, ``_sctl_target``), as
            scvi-tools adds its own ``_scvi_*`` keys.
        domain_key
            Column of ``adata.obs`` naming the domain of each row.
        labels_key
            Column of ``adata.obs`` with ``"sensitive"`` / ``"resistant"`` (NaN = unlabelled, e.g. every cell).
        {layer}
        bulk_value
            Value of ``adata.obs[domain_key]`` marking bulk rows; every other value is a cell.
        {register_kwargs}
        """
        check_anndata(adata)
        check_finite(get_matrix(adata, layer), "the expression")  # before writing anything into `adata`
        cls._write_codes(adata, domain_key, labels_key, bulk_value)
        setup_method_args = cls._get_setup_method_args(**locals())
        cls._register(adata, setup_method_args, layer, [NumericalObsField(LABELS_REG, _TARGET)], **kwargs)

    @staticmethod
    def _write_codes(adata: AnnData, domain_key: str, labels_key: str, bulk_value: str) -> None:
        domain = check_obs_key(adata, domain_key, hint="Build the data with `sctl.models.transfer_data`.")
        labels = check_obs_key(adata, labels_key, hint="Label the bulk lines with `sctl.pp.binarize_response`.")
        is_cell = cell_rows(domain, domain_key, bulk_value)
        text = labels.astype(object)
        target = np.where(text.isna(), np.nan, (text == SENSITIVE).astype(np.float64))
        if np.isnan(target[~is_cell]).all():
            raise ValueError(f"No bulk row has a label in `adata.obs[{labels_key!r}]`.")
        adata.obs[_DOMAIN_CODE] = is_cell.astype(np.float32)
        adata.obs[_TARGET] = target.astype(np.float32)

    # ---------------------------------------------------------- save/load
    def _extra_state(self) -> dict[str, Any]:
        setup, genes = self._setup_args, list(self.var_names)
        return {"setup": setup, "var_names": genes, "standardize_rows": self.standardize_rows_}

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> Self:
        placeholder = cls._placeholder(meta)
        setup = {k: v for k, v in meta["setup"].items() if k in ("domain_key", "labels_key", "layer", "bulk_value")}
        cls.setup_anndata(placeholder, **{**setup, **cls._extra_setup(meta)})
        return cls(placeholder, **cls._init_from_meta(meta, state))

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        self.standardize_rows_ = bool(meta.get("standardize_rows", False))  # absent: saved before the option

    @classmethod
    def _extra_setup(cls, meta: dict[str, Any]) -> dict[str, Any]:
        """Arguments of ``setup_anndata`` for the placeholder beyond the saved setup (e.g. no clustering)."""
        return {}

    @classmethod
    def _init_from_meta(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Arguments of the constructor that rebuild the saved model: the saved ones, and any data they need."""
        return dict(meta["init"])

    @classmethod
    def _placeholder(cls, meta: dict[str, Any]) -> AnnData:
        setup = meta["setup"]
        domain = [setup.get("bulk_value", BULK), CELLS, setup.get("bulk_value", BULK), CELLS]
        obs = pd.DataFrame(
            {
                setup["domain_key"]: domain,
                setup["labels_key"]: pd.Categorical(
                    [SENSITIVE, np.nan, "resistant", np.nan], categories=list(RESPONSE_CATEGORIES)
                ),
            },
            index=[f"placeholder{i}" for i in range(4)],
        )
        X = np.zeros((4, len(meta["var_names"])), dtype=np.float32)
        adata = AnnData(X, obs=obs, var=pd.DataFrame(index=pd.Index(meta["var_names"], dtype=str)))
        if setup.get("layer") is not None:
            adata.layers[setup["layer"]] = X.copy()
        return adata

    # ------------------------------------------------------- from bulk
    @classmethod
    def from_reference(
        cls,
        bulk: AnnData,
        cells: AnnData,
        drug: str,
        *,
        data_kwargs: dict[str, Any] | None = None,
        train_kwargs: dict[str, Any] | None = None,
        **model_kwargs: Any,
    ) -> Self:
        """Prepare the data (:func:`transfer_data`), set it up, build and train a model in one call.

        Parameters
        ----------
        bulk, cells, drug
            As in :func:`transfer_data`.
        data_kwargs
            Passed to :func:`transfer_data` (label rule, layers, ``genes``, ``n_top_genes``, ...). Arguments left
            out take the value of the model's preset (``model_kwargs["preset"]``, e.g. ``standardize_rows`` and
            ``n_top_genes``; see the model's methods page).
        train_kwargs
            Passed to :meth:`train` (which takes its preset's values for the arguments left out).
        **model_kwargs
            Passed to the model's constructor, ``preset`` included.

        Returns
        -------
        The trained model.
        """
        preset = check_preset(model_kwargs.get("preset") or "sctl")
        data_kwargs = {**cls._data_presets[preset], **(data_kwargs or {})}
        data = transfer_data(bulk, cells, drug, **data_kwargs)
        cls.setup_anndata(data, **cls._setup_kwargs_from(model_kwargs))
        model = cls(data, **model_kwargs)
        model.train(**(train_kwargs or {}))
        return model

    @classmethod
    def _setup_kwargs_from(cls, model_kwargs: dict[str, Any]) -> dict[str, Any]:
        return {}
