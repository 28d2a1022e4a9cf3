"""Save and load CSG²A's two models without pickling (:mod:`sctl.models._io`), and read sctl 0.2's single-class saves.

sctl 0.2 held both stages in one class: ``CSG2A.finetune_ic50`` fine-tuned the model in place, and ``save`` wrote the
network, the ln IC50 head (``state["head"]``) and the fine-tuning settings (``meta["finetune"]``) into one directory
of class ``"CSG2A"``. Such a directory loads as both models: :meth:`sctl.models.CSG2A.load` reads the network (with a
warning when the file also holds a head), :meth:`sctl.models.CSG2AIC50.load` the fine-tuned model. Saving each
again writes the current layout.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scvi.data import AnnDataManager
from scvi.model.base import BaseModelClass

from .._io import META_FILE, load_model, load_state, save_model
from . import _data
from ._preset_tables import IC50_TRAIN_PRESETS

if TYPE_CHECKING:
    from ._ic50 import CSG2AIC50
    from ._model import CSG2A

#: settings of models saved before each option existed: the values those models used
PRETRAINED_DEFAULTS = {"attention": "full", "prior": "sparse", "ppi_weights": "raw", "residual": True, "preset": "sctl"}
PRETRAINED_FIELDS = ("init_params", "var_names", "setup", "is_trained", "history")
IC50_FIELDS = ("pretrained", "var_names", "init_params", "setup", "fitted", "is_trained", "history")


def save_pretrained(model: CSG2A, dir_path: str | Path, *, overwrite: bool) -> None:
    """Write a :class:`~sctl.models.CSG2A`: its network's tensors and its settings, setup and history as JSON."""
    meta = {
        "init_params": model.init_params_,
        "var_names": list(model.var_names_),
        "setup": model._setup,
        "is_trained": model.is_trained_,
        "history": model.history_,
        "train_params": model.train_params_,
    }
    save_model(dir_path, "CSG2A", {"module": model.module.state_dict()}, meta, overwrite=overwrite)


def load_pretrained(cls: type[CSG2A], dir_path: str | Path, adata: AnnData | None) -> CSG2A:
    """Rebuild a saved :class:`~sctl.models.CSG2A` (see :meth:`~sctl.models.CSG2A.load`)."""
    meta, state = load_model(dir_path, cls.__name__, required=PRETRAINED_FIELDS)
    if "module" not in state:
        raise ValueError(f"The weights in {dir_path} lack the network of the saved CSG2A; save the model again.")
    if meta.get("finetune"):
        warnings.warn(
            f"{dir_path} holds a CSG2A fine-tuned on ln IC50 by sctl 0.2: this loads its network (as fine-tuned: "
            "biases removed, trained too if fine-tuned with `freeze=False`). Load the fine-tuned model with "
            "`sctl.models.CSG2AIC50.load(path)`; saving each model again writes them apart.",
            UserWarning,
            stacklevel=3,
        )
    model = cls.__new__(cls)
    setup = meta["setup"]
    _attach_data(model, adata, setup, meta["var_names"], lambda a: _data.register_profiles(a, setup, np.zeros(1)))
    model._build(pd.Index(meta["var_names"]), pretrained_params(meta["init_params"]), None)
    load_state(model.module, state["module"], dir_path, "saved CSG2A")
    model.is_trained_ = meta["is_trained"]
    model.history_ = {k: v for k, v in meta["history"].items() if not k.startswith("finetune_")}
    model.train_params_ = meta.get("train_params")
    return model


def pretrained_params(params: dict[str, Any]) -> dict[str, Any]:
    """A saved CSG2A's settings, those it predates filled with the values it used."""
    return {**PRETRAINED_DEFAULTS, **params}


def save_ic50(model: CSG2AIC50, dir_path: str | Path, *, overwrite: bool) -> None:
    """Write a :class:`~sctl.models.CSG2AIC50`: network and head tensors, settings and fitted tables as JSON."""
    state = {"module": model.module.network.state_dict(), "head": model.module.head.state_dict()}
    meta = {
        "pretrained": model.pretrained_params_,
        "var_names": list(model.var_names_),
        "init_params": model.init_params_,
        "setup": model._setup,
        "fitted": model.fitted_,
        "is_trained": model.is_trained_,
        "history": model.history_,
        "train_params": model.train_params_,
    }
    save_model(dir_path, "CSG2AIC50", state, meta, overwrite=overwrite)


def load_ic50(cls: type[CSG2AIC50], dir_path: str | Path, adata: AnnData | None) -> CSG2AIC50:
    """Rebuild a saved :class:`~sctl.models.CSG2AIC50`, or the fine-tuned stage of an sctl 0.2 CSG2A."""
    if _saved_class(dir_path) == "CSG2A":
        meta, state = load_model(dir_path, "CSG2A", required=(*PRETRAINED_FIELDS, "finetune"))
        meta = _ic50_from_single_class(meta, dir_path)
    else:
        meta, state = load_model(dir_path, cls.__name__, required=IC50_FIELDS)
    missing = [name for name in ("module", "head") if name not in state]
    if missing:
        raise ValueError(f"The weights in {dir_path} lack the {' and '.join(missing)}; save the model again.")
    model = cls.__new__(cls)
    setup, fitted = meta["setup"], meta["fitted"]
    _attach_data(model, adata, setup, meta["var_names"], lambda a: _data.register_bulk(a, setup))
    pretrained = {**meta["pretrained"], "init_params": pretrained_params(meta["pretrained"]["init_params"])}
    model._build(pd.Index(meta["var_names"]), pretrained, meta["init_params"], fitted)
    load_state(model.module.network, state["module"], dir_path, "network of the saved CSG2AIC50")
    load_state(model.module.head, state["head"], dir_path, "ln IC50 head of the saved CSG2AIC50")
    model.is_trained_, model.history_ = meta["is_trained"], meta["history"]
    model.train_params_ = meta.get("train_params")
    return model


def _attach_data(
    model: BaseModelClass,
    adata: AnnData | None,
    setup: dict[str, Any],
    var_names: list[str],
    register: Callable[[AnnData], AnnDataManager],
) -> None:
    """Initialise a loaded model on ``adata`` set up with the saved setup, else on the registry of a placeholder."""
    if adata is None:
        BaseModelClass.__init__(model, registry=register(_data.placeholder(var_names, setup)).registry)
        return
    if list(adata.var_names.astype(str)) != list(var_names):
        raise ValueError(
            f"`adata` must hold the saved model's {len(var_names)} genes, in its order: pass "
            "`adata[:, model_genes].copy()` (the genes are in `model.json`, `var_names`)."
        )
    type(model).setup_anndata(adata, **setup)
    BaseModelClass.__init__(model, adata)


def _saved_class(dir_path: str | Path) -> str | None:
    """The class named in a saved model's ``model.json`` (``None`` when unreadable: :func:`load_model` says why)."""
    try:
        return json.loads((Path(dir_path) / META_FILE).read_text(encoding="utf-8")).get("class")
    except (OSError, ValueError, AttributeError):
        return None


def _ic50_from_single_class(meta: dict[str, Any], dir_path: str | Path) -> dict[str, Any]:
    """The fine-tuned model held by an sctl 0.2 CSG2A save, in the layout :func:`save_ic50` writes."""
    finetune = meta["finetune"]
    if not finetune:
        raise ValueError(
            f"{dir_path} holds a pretrained CSG2A without a fine-tuned ln IC50 stage: load it with "
            "`sctl.models.CSG2A.load(path)` and fine-tune it with "
            "`sctl.models.CSG2AIC50.from_pretrained(model, bulk).train()`."
        )
    params = pretrained_params(meta["init_params"])
    # settings it predates: no drug offset, no clipping, one scaling per gene
    init = {
        "preset": params["preset"],
        "response_key": finetune["key"],
        "layer": finetune["layer"],
        "dose": finetune["dose"],
        "time": finetune["time"],
        "n_projection": finetune["n_projection"],
        "n_head_hidden": finetune["n_head_hidden"],
        "scaling": finetune.get("scaling", "gene"),
        "offset": finetune.get("offset", "none"),
        "n_neighbours": finetune.get("n_neighbours", 3),
        "shrinkage": finetune.get("shrinkage", 1.0),
        "clip_features": finetune.get("feature_range") is not None,
        "seed": params["seed"],
    }
    fitted = {
        "drugs": finetune["drugs"],
        "drug_means": finetune.get("drug_means") or {},
        "feature_range": finetune.get("feature_range"),
        "drug_features": finetune.get("drug_features"),
        "n_train_pairs": finetune.get("n_train_pairs"),
    }
    history = {
        new: meta["history"][old]
        for old, new in (("finetune_loss", "train_loss"), ("finetune_validation_loss", "validation_loss"))
        if old in meta["history"]
    }
    return {
        "pretrained": {"init_params": params, "setup": meta["setup"]},
        "var_names": meta["var_names"],
        "init_params": init,
        "setup": {"response_key": finetune["key"], "layer": finetune["layer"]},
        "fitted": fitted,
        "is_trained": True,
        "history": history,
        "train_params": {k: finetune[k] for k in IC50_TRAIN_PRESETS["sctl"] if k in finetune},
    }


class SaveLoadMixin:
    """``save`` and ``load`` of :class:`~sctl.models.CSG2A` and :class:`~sctl.models.CSG2AIC50`, never pickling."""

    def save(self, dir_path: str | Path, *, overwrite: bool = False, **kwargs: Any) -> None:
        """Save the weights (``torch.save`` of tensors) and the settings (JSON) into ``dir_path``.

        The settings also record the versions of sctl, scvi-tools and torch, checked by :meth:`load`.

        Parameters
        ----------
        dir_path
            Directory to write to.
        overwrite
            Replace a model already saved there.
        **kwargs
            Ignored; accepted for compatibility with :meth:`scvi.model.base.BaseModelClass.save`.

        Examples
        --------
        >>> model.save("csg2a_model", overwrite=True)  # doctest: +SKIP
        """
        _WRITERS[type(self).__name__](self, dir_path, overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData | None = None, **kwargs: Any) -> Any:
        """Load a model saved by :meth:`save`; the weights are read with ``torch.load(weights_only=True)``.

        A directory saved by another class, in a newer file format, or with missing or malformed files is refused;
        other versions of sctl, scvi-tools or torch than the saving ones give a :class:`UserWarning`. A CSG2A saved
        by sctl 0.2, which held both stages, loads as both: :class:`~sctl.models.CSG2A` reads its network,
        :class:`~sctl.models.CSG2AIC50` its fine-tuned model (a directory without one is refused, saying how to
        fine-tune). A loaded :class:`~sctl.models.CSG2AIC50` predicts but keeps no training pairs to train on.

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata
            Optional default data for ``predict`` (and further pretraining), set up with the saved setup; it needs
            the saved genes, in order.
        **kwargs
            Ignored; accepted for compatibility with :meth:`scvi.model.base.BaseModelClass.load`.

        Examples
        --------
        >>> model = sctl.models.CSG2A.load("csg2a_model")  # doctest: +SKIP
        """
        return _READERS[cls.__name__](cls, dir_path, adata)


_WRITERS = {"CSG2A": save_pretrained, "CSG2AIC50": save_ic50}
_READERS = {"CSG2A": load_pretrained, "CSG2AIC50": load_ic50}
