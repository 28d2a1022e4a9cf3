"""One pickle-free save / load for every sctl model: tensors with :func:`torch.save`, everything else as JSON.

scvi-tools' :meth:`~scvi.model.base.BaseModelClass.load` unpickles (``torch.load(weights_only=False)``), which runs
arbitrary code from an untrusted file. sctl's models save instead, into one directory, ``model_state.pt``: the
weights, a state dict of tensors (or a dict of state dicts) read back with ``torch.load(weights_only=True)`` only,
so that a file holding any other pickled object is refused; and ``model.json``: what rebuilds the model (class,
init arguments, AnnData setup, genes, anything model-specific), the file-format version and the versions of sctl,
scvi-tools and torch that saved it. On load, another class, a newer format, or a missing or malformed file is
refused with an error saying what is wrong; other versions of sctl, scvi-tools or torch than the saving ones give
a :class:`UserWarning` naming both. :class:`SaveLoadMixin` gives every model its ``save`` and ``load``.
"""

from __future__ import annotations

import inspect
import json
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

WEIGHTS_FILE = "model_state.pt"
META_FILE = "model.json"
#: version of the layout written by :func:`save_model`; raise it when the layout changes incompatibly
FORMAT_VERSION = 1
#: keys of ``model.json`` written by :func:`save_model` itself
RESERVED = ("class", "format_version", "versions")


def library_versions() -> dict[str, str]:
    """Versions of sctl, scvi-tools and torch running now (recorded by :func:`save_model`)."""
    import scvi
    import torch

    from sctl import __version__

    return {"sctl": str(__version__), "scvi-tools": str(scvi.__version__), "torch": str(torch.__version__)}


def _to_json(value: Any) -> Any:
    """``json.dumps`` fallback for the numpy / pandas values settings often hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | pd.Index | pd.Series):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} ({value!r:.80}) in {META_FILE}")


def save_model(
    dir_path: str | Path, cls_name: str, state: Mapping[str, Any], meta: Mapping[str, Any], *, overwrite: bool = False
) -> Path:
    """Write ``state`` (tensors) to ``model_state.pt`` and ``meta`` with the versions to ``model.json``.

    Parameters
    ----------
    dir_path
        Directory to write to; created when missing.
    cls_name
        Name of the model's class, checked by :func:`load_model`.
    state
        A state dict (name -> tensor) or a dict of state dicts, e.g. ``{"module": ..., "head": ...}``.
    meta
        JSON-serialisable settings, e.g. ``init`` (constructor arguments), ``setup`` and ``var_names``.
    overwrite
        Replace a model already saved in ``dir_path``; otherwise a non-empty directory is an error.

    Returns
    -------
    The directory.
    """
    path = Path(dir_path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} is a file, not a directory; pass a directory path to save the model in.")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} exists and is not empty; pass `overwrite=True` to replace the saved model.")
    clash = sorted(set(meta).intersection(RESERVED))
    if clash:
        raise ValueError(f"The settings of a saved model may not use the reserved keys {clash}.")
    _check_tensors(state, "the state to save")
    record = {"class": cls_name, "format_version": FORMAT_VERSION, "versions": library_versions(), **meta}
    try:
        text = json.dumps(record, indent=1, default=_to_json)
    except (TypeError, ValueError) as error:  # checked before anything is written
        raise TypeError(f"The settings of this {cls_name} cannot be written as JSON: {error}.") from error
    import torch

    path.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state), path / WEIGHTS_FILE)
    (path / META_FILE).write_text(text)
    return path


def load_model(
    dir_path: str | Path, cls_name: str, required: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the settings and the weights written by :func:`save_model`, refusing anything unsafe or unexpected.

    A missing directory or file raises :class:`FileNotFoundError`, a model of another class :class:`TypeError`;
    a malformed ``model.json``, a newer format than this sctl reads, or a ``model_state.pt`` holding anything but
    tensors (never unpickled) :class:`ValueError`.

    Parameters
    ----------
    dir_path
        Directory written by :func:`save_model`.
    cls_name
        Name of the class loading it; a model saved by another class is refused.
    required
        Keys ``model.json`` must hold for this class.

    Returns
    -------
    ``(meta, state)``: the JSON settings and the tensors (as saved).

    """
    path = Path(dir_path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"No saved model at {path}: the directory does not exist. Pass the directory given to `save`."
        )
    missing = [name for name in (META_FILE, WEIGHTS_FILE) if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"No saved model in {path}: {' and '.join(missing)} missing (a saved model has {META_FILE} and "
            f"{WEIGHTS_FILE}). Save the model again with `model.save(dir_path)`."
        )
    meta = _read_meta(path / META_FILE)
    saved_class = meta.get("class")
    if saved_class != cls_name:
        raise TypeError(f"{path} holds a saved {saved_class}, not a {cls_name}: load it with `{saved_class}.load`.")
    _check_format(meta, path)
    lacking = [key for key in required if key not in meta]
    if lacking:
        raise ValueError(
            f"{path / META_FILE} lacks the field(s) {lacking} a saved {cls_name} needs; the file is incomplete "
            "or was edited. Save the model again."
        )
    _check_versions(meta.get("versions"), path)
    return meta, _read_weights(path / WEIGHTS_FILE)


def _read_meta(file: Path) -> dict[str, Any]:
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{file} is not valid JSON ({error}); the saved model is corrupted or was edited. Save the model again."
        ) from error
    if not isinstance(meta, dict):
        raise ValueError(f"{file} must hold a JSON object, found a {type(meta).__name__}. Save the model again.")
    return meta


def _check_format(meta: dict[str, Any], path: Path) -> None:
    version = meta.get("format_version", 0)  # 0: saved before sctl recorded a format version (same layout)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"{path / META_FILE} has an invalid `format_version` {version!r}; save the model again.")
    if version > FORMAT_VERSION:
        saved_by = (meta.get("versions") or {}).get("sctl", "unknown")
        raise ValueError(
            f"The model in {path} was saved in file format {version} (by sctl {saved_by}); this sctl "
            f"({library_versions()['sctl']}) reads formats up to {FORMAT_VERSION}. Upgrade sctl to load it."
        )


def _check_versions(saved: Any, path: Path) -> None:
    current = library_versions()
    if not isinstance(saved, dict):
        warnings.warn(
            f"The model in {path} does not record the versions of sctl, scvi-tools and torch that saved it; "
            f"loading it with sctl {current['sctl']}, scvi-tools {current['scvi-tools']}, torch {current['torch']}. "
            "Check its predictions, and save it again to record the versions.",
            UserWarning,
            stacklevel=3,
        )
        return
    differ = [f"{name} {saved.get(name)} (now {now})" for name, now in current.items() if saved.get(name) != now]
    if differ:
        warnings.warn(
            f"The model in {path} was saved with {', '.join(differ)}. It loads, but its predictions may differ "
            "slightly; save it again with these versions, or install the saving ones to reproduce them exactly.",
            UserWarning,
            stacklevel=3,
        )


def _read_weights(file: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        if zipfile.is_zipfile(file):
            problem = (
                "it holds pickled objects other than tensors, which sctl never unpickles (unpickling can run "
                "arbitrary code). Only load models saved by sctl's `save`, and do not re-read this file with "
                "`torch.load(weights_only=False)` unless you trust its source"
            )
        else:
            problem = "it was not written by `torch.save` or is truncated / corrupted. Save the model again"
        raise ValueError(f"{file} is not a plain tensor file: {problem}.") from error
    if not isinstance(state, dict):
        raise ValueError(f"{file} is not a plain tensor file: it holds a {type(state).__name__}, not a state dict.")
    _check_tensors(state, str(file))
    return state


def _check_tensors(state: Mapping[str, Any], what: str) -> None:
    """Every leaf of a (nested) state dict must be a tensor."""
    import torch

    for name, value in state.items():
        if isinstance(value, Mapping):
            _check_tensors(value, what)
        elif not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{what} is not a plain tensor file: entry {name!r} is a {type(value).__name__}, not a tensor."
            )


def load_state(module: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str | Path, what: str) -> None:
    """Load ``state`` into ``module``, with an error naming the file when the weights do not fit the rebuilt model."""
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(
            f"The weights in {Path(path) / WEIGHTS_FILE} do not fit the {what} described by its {META_FILE} "
            f"({(str(error).splitlines() or [''])[0][:300]}); the two files come from different saves. "
            "Save the model again."
        ) from error
    module.eval()


class SaveLoadMixin:
    """``save`` and ``load`` of every sctl model: its constructor's settings and its weights, nothing pickled.

    The settings saved are ``init_params_``: the constructor's arguments, captured in ``__init__`` by
    :meth:`_record_init_params` (scvi-tools' ``_get_init_params`` idea: no hand-kept copy), with the values the
    preset gave to those left at ``None``, so that a later change of a preset leaves a saved model as it was.
    :meth:`save` writes them as ``"init"`` of ``model.json`` beside the model's other settings, and the tensors to
    ``model_state.pt``; :meth:`load` reads both with :func:`load_model`, rebuilds the model and loads the weights.
    A loaded model's ``init_params_`` are the saved ones: saving it again writes the same ``"init"``.

    Hooks, each with a default; a model overrides only what is its own (in the order of ``save``, then ``load``):

    ``_check_saveable()``
        Raise when the model cannot be saved (default: when ``is_trained_`` is false).
    ``_state_dict()``
        The tensors (default ``self.module.state_dict()``). A model of several parts, e.g. trained in two stages,
        returns one state dict per part, ``{"module": ..., "head": ...}``, without the parts not built yet.
    ``_extra_state()``
        JSON settings besides ``"init"``: registered setup, genes, categories, what training fitted, the stage
        reached (default none). ``_saved_fields`` lists those ``load`` cannot do without.
    ``_save_parts(path, overwrite)``
        What lives beside the two files, e.g. an ensemble's members in sub-directories (default nothing).
    ``_rebuild(meta, state)``, classmethod
        A new untrained model the tensors fit, from ``meta`` (all of ``model.json``) and ``state`` (what is read
        off the tensors, e.g. a mask). Default ``cls(**meta["init"])``; a model bound to an AnnData registers a
        placeholder with the saved genes and setup and is built on it. The ``_init_data_args`` (data, not in
        ``init_params_``) are rebuilt here; settings that older files lack take the value those files used. A
        model of several parts also builds each part ``meta`` says was saved (e.g. a second stage's head).
    ``_load_state(state, path)``
        Load the tensors strictly (default into ``self.module``), each part of a model of several; tensors
        renamed since older files are mapped to their new names here.
    ``_restore_extra_state(meta, path)``
        Everything else: fitted attributes, the stage reached, the parts of ``_save_parts``. ``is_trained_`` is
        set true before it; a model that can be saved untrained sets it from ``meta``.
    ``_loaded_with(adata)``
        Called when ``load`` gets ``adata``: check that it fits (its genes), or keep it as the default data.

    A layout older sctl cannot read raises :data:`FORMAT_VERSION`. Older files are migrated in the hooks, those of
    another layout or class in ``_read`` (classmethod: ``load_model`` by default), or refused saying how to save again.
    """

    #: constructor arguments that are data, not settings: left out of ``init_params_`` and rebuilt by ``_rebuild``
    _init_data_args: ClassVar[tuple[str, ...]] = ("adata",)
    #: keys of ``model.json`` that ``load`` needs besides ``"init"``
    _saved_fields: ClassVar[tuple[str, ...]] = ()
    init_params_: dict[str, Any]
    module: torch.nn.Module

    def _record_init_params(self, arguments: Mapping[str, Any], **resolved: Any) -> None:
        """Set ``init_params_`` to the constructor's arguments, taken from its ``locals()`` by its signature.

        Every parameter of ``__init__`` but ``self``, ``*args`` / ``**kwargs`` and the data (``_init_data_args``) is
        kept, in the signature's order; ``resolved`` replace arguments, e.g. the preset's values of those at ``None``.
        """
        parameters = inspect.signature(type(self).__init__).parameters.values()
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        names = [p.name for p in parameters if p.name != "self" and p.kind not in variadic]
        names = [name for name in names if name not in self._init_data_args]
        unknown = sorted(set(resolved) - set(names))
        if unknown:
            raise TypeError(f"{type(self).__name__}.__init__ has no setting(s) {unknown} to record.")
        self.init_params_ = {name: resolved.get(name, arguments[name]) for name in names}

    # ---------------------------------------------------------------------------------------------------- save
    def save(self, dir_path: str | Path, overwrite: bool = False, **kwargs: Any) -> None:
        """Save the weights (``model_state.pt``, tensors only) and the settings (``model.json``) into ``dir_path``.

        ``model.json`` also records the file-format version and the versions of sctl, scvi-tools and torch,
        which :meth:`load` checks.

        Parameters
        ----------
        dir_path
            Directory to write to; created when missing.
        overwrite
            Replace a model already saved there; otherwise a non-empty directory is an error.
        **kwargs
            Ignored; accepted for compatibility with :meth:`scvi.model.base.BaseModelClass.save`.

        Examples
        --------
        >>> model.save("my_model")  # doctest: +SKIP
        """
        self._check_saveable()
        meta = {"init": self.init_params_, **self._extra_state()}
        path = save_model(dir_path, type(self).__name__, self._state_dict(), meta, overwrite=overwrite)
        self._save_parts(path, overwrite)

    def _check_saveable(self) -> None:
        if not getattr(self, "is_trained_", False):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} is not trained yet: call .train() first, then save.")

    def _state_dict(self) -> dict[str, Any]:
        return self.module.state_dict()

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _save_parts(self, path: Path, overwrite: bool) -> None:
        return None

    # ---------------------------------------------------------------------------------------------------- load
    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData | None = None, **kwargs: Any) -> Self:
        """Load a model saved by :meth:`save`; the weights are read with ``torch.load(weights_only=True)``.

        A directory saved by another class, in a newer file format, or with missing or malformed files is refused;
        other versions of sctl, scvi-tools or torch than the saving ones give a :class:`UserWarning`.

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata
            Optional data, checked to fit the model (a model that predicts on any data needs none).
        **kwargs
            Ignored; accepted for compatibility with :meth:`scvi.model.base.BaseModelClass.load`.

        Returns
        -------
        The trained model, bound to a small placeholder AnnData when it takes one (predict takes any data).

        Examples
        --------
        >>> loaded = type(model).load("my_model")  # e.g. sctl.models.GRIP.load  # doctest: +SKIP
        """
        meta, state = cls._read(dir_path)
        path = Path(dir_path)
        model = cls._rebuild(meta, state)
        model._load_state(state, path)
        model.init_params_ = {**model.init_params_, **meta["init"]}
        model.is_trained_ = True
        model._restore_extra_state(meta, path)
        if adata is not None:
            model._loaded_with(adata)
        return model

    @classmethod
    def _read(cls, dir_path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
        return load_model(dir_path, cls.__name__, required=("init", *cls._saved_fields))

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, Any]) -> Self:
        return cls(**meta["init"])

    def _load_state(self, state: dict[str, Any], path: Path) -> None:
        load_state(self.module, state, path, f"saved {type(self).__name__}")

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        return None

    def _loaded_with(self, adata: AnnData) -> None:
        return None
