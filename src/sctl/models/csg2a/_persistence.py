"""How CSG²A's two models save and load through :class:`~sctl.models._io.SaveLoadMixin`, and sctl 0.2's saves.

sctl 0.2 held both stages in one class: ``CSG2A.finetune_ic50`` fine-tuned the model in place, and ``save`` wrote the
network, the ln IC50 head (``state["head"]``), the settings (``meta["init_params"]``) and the fine-tuning settings
(``meta["finetune"]``) into one directory of class ``"CSG2A"``. Such a directory loads as both models:
:meth:`sctl.models.CSG2A.load` reads the network (with a warning when the file also holds a head),
:meth:`sctl.models.CSG2AIC50.load` the fine-tuned model. Saving each again writes the current layout.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scvi.model.base import BaseModelClass

from sctl.models._io import META_FILE, SaveLoadMixin, load_model, load_state
from sctl.models.csg2a import _data
from sctl.models.csg2a._preset_tables import IC50_TRAIN_PRESETS

#: settings of models saved before each option existed: the values those models used
PRETRAINED_DEFAULTS = {"attention": "full", "prior": "sparse", "ppi_weights": "raw", "residual": True, "preset": "sctl"}
#: what a save of sctl 0.2's CSG2A holds
PRETRAINED_FIELDS = ("init_params", "var_names", "setup", "is_trained", "history")


def pretrained_params(params: dict[str, Any]) -> dict[str, Any]:
    """A saved CSG2A's settings, those it predates filled with the values it used."""
    return {**PRETRAINED_DEFAULTS, **params}


class PretrainedPersistence(SaveLoadMixin):
    """The hooks of :class:`~sctl.models._io.SaveLoadMixin` for :class:`~sctl.models.CSG2A`.

    ``model.json`` holds the settings (``"init"``), the genes, the registered setup, the history and the training
    settings; ``model_state.pt`` the network as ``{"module": ...}``. A save of sctl 0.2 (settings as
    ``"init_params"``) loads too, with a warning when it also holds a fine-tuned head.
    """

    _init_data_args = ("adata", "ppi")
    _saved_fields = ("var_names", "setup")

    def _state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict()}

    def _extra_state(self) -> dict[str, Any]:
        history, train_params = self.history_, self.train_params_
        return {
            "var_names": list(self.var_names_),
            "setup": self._setup,
            "history": history,
            "train_params": train_params,
        }

    @classmethod
    def _read(cls, dir_path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
        meta, state = load_model(dir_path, cls.__name__, required=cls._saved_fields)
        if "init" not in meta and "init_params" in meta:  # sctl 0.2
            meta["init"] = meta.pop("init_params")
            if meta.get("finetune"):
                warnings.warn(
                    f"{dir_path} holds a CSG2A fine-tuned on ln IC50 by sctl 0.2: this loads its network (as "
                    "fine-tuned: biases removed, trained too if fine-tuned with `freeze=False`). Load the fine-tuned "
                    "model with `sctl.models.CSG2AIC50.load(path)`; saving each model again writes them apart.",
                    UserWarning,
                    stacklevel=4,
                )
        _require(meta, state, ("init",), ("module",), dir_path)
        return {**meta, "init": pretrained_params(meta["init"])}, state

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, Any]) -> Any:
        model, setup = cls.__new__(cls), meta["setup"]
        placeholder = _data.placeholder(meta["var_names"], setup)
        BaseModelClass.__init__(model, registry=_data.register_profiles(placeholder, setup, np.zeros(1)).registry)
        model._build(pd.Index(meta["var_names"]), meta["init"], None)
        return model

    def _load_state(self, state: dict[str, Any], path: Path) -> None:
        load_state(self.module, state["module"], path, "saved CSG2A")

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        self.is_trained_ = meta.get("is_trained", True)
        self.history_ = {k: v for k, v in (meta.get("history") or {}).items() if not k.startswith("finetune_")}
        self.train_params_ = meta.get("train_params")

    def _loaded_with(self, adata: AnnData) -> None:
        _check_genes(adata, self.var_names_)
        self.adata = adata  # set up by scvi-tools from the saved setup


class IC50Persistence(SaveLoadMixin):
    """The hooks of :class:`~sctl.models._io.SaveLoadMixin` for :class:`~sctl.models.CSG2AIC50`.

    ``model.json`` holds the settings (``"init"``), the pretrained model's settings and setup, the genes, the bulk
    setup, what fine-tuning fitted (drugs, their mean responses, descriptor range, embeddings), the history and
    the training settings; ``model_state.pt`` the network and the head. A save of sctl 0.2's single-class CSG2A
    after ``finetune_ic50`` loads as its fine-tuned model.
    """

    _init_data_args = ("adata", "pretrained", "drugs", "pairs", "drug_features")
    _saved_fields = ("pretrained", "var_names", "setup", "fitted")

    def _state_dict(self) -> dict[str, Any]:
        return {"module": self.module.network.state_dict(), "head": self.module.head.state_dict()}

    def _extra_state(self) -> dict[str, Any]:
        return {
            "pretrained": self.pretrained_params_,
            "var_names": list(self.var_names_),
            "setup": self._setup,
            "fitted": self.fitted_,
            "history": self.history_,
            "train_params": self.train_params_,
        }

    @classmethod
    def _read(cls, dir_path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
        if _saved_class(dir_path) == "CSG2A":
            meta, state = load_model(dir_path, "CSG2A", required=(*PRETRAINED_FIELDS, "finetune"))
            meta = _ic50_from_single_class(meta, dir_path)
        else:
            meta, state = super()._read(dir_path)
        _require(meta, state, (), ("module", "head"), dir_path)
        pretrained = {**meta["pretrained"], "init_params": pretrained_params(meta["pretrained"]["init_params"])}
        return {**meta, "pretrained": pretrained}, state

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, Any]) -> Any:
        model, setup = cls.__new__(cls), meta["setup"]
        placeholder = _data.placeholder(meta["var_names"], setup)
        BaseModelClass.__init__(model, registry=_data.register_bulk(placeholder, setup).registry)
        model._build(pd.Index(meta["var_names"]), meta["pretrained"], meta["init"], meta["fitted"])
        return model

    def _load_state(self, state: dict[str, Any], path: Path) -> None:
        load_state(self.module.network, state["module"], path, "network of the saved CSG2AIC50")
        load_state(self.module.head, state["head"], path, "ln IC50 head of the saved CSG2AIC50")

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        self.history_, self.train_params_ = meta.get("history") or {}, meta.get("train_params")

    def _loaded_with(self, adata: AnnData) -> None:
        _check_genes(adata, self.var_names_)
        self.adata = adata  # set up by scvi-tools from the saved setup


def _require(meta: dict, state: dict, fields: tuple[str, ...], parts: tuple[str, ...], dir_path: str | Path) -> None:
    """Refuse a save lacking settings ``fields`` or tensors ``parts``."""
    missing = [f"the field {name!r}" for name in fields if name not in meta]
    missing += [f"the {name} tensors" for name in parts if name not in state]
    if missing:
        raise ValueError(
            f"The save in {dir_path} lacks {' and '.join(missing)}; it is incomplete. Save the model again."
        )


def _check_genes(adata: AnnData, var_names: pd.Index) -> None:
    if list(adata.var_names.astype(str)) != list(var_names):
        raise ValueError(
            f"`adata` must hold the saved model's {len(var_names)} genes, in its order: pass "
            "`adata[:, model.var_names_].copy()`."
        )


def _saved_class(dir_path: str | Path) -> str | None:
    """The class named in a saved model's ``model.json`` (``None`` when unreadable: :func:`load_model` says why)."""
    try:
        return json.loads((Path(dir_path) / META_FILE).read_text(encoding="utf-8")).get("class")
    except (OSError, ValueError, AttributeError):
        return None


def _ic50_from_single_class(meta: dict[str, Any], dir_path: str | Path) -> dict[str, Any]:
    """The fine-tuned model held by an sctl 0.2 CSG2A save, in the layout :class:`IC50Persistence` writes."""
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
        "dose": finetune["dose"],
        "time": finetune["time"],
        "preset": params["preset"],
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
        "init": init,
        "setup": {"response_key": finetune["key"], "layer": finetune["layer"]},
        "fitted": fitted,
        "is_trained": True,
        "history": history,
        "train_params": {k: finetune[k] for k in IC50_TRAIN_PRESETS["sctl"] if k in finetune},
    }
