"""One pickle-free save / load for every sctl model: tensors with :func:`torch.save`, everything else as JSON.

scvi-tools' :meth:`~scvi.model.base.BaseModelClass.load` unpickles (``torch.load(weights_only=False)``), which runs
arbitrary code from an untrusted file. sctl's models save instead, into one directory,

``model_state.pt``
    the weights: a state dict of tensors (or a dict of such state dicts), written by :func:`torch.save` and read
    back with ``torch.load(weights_only=True)`` only, so a file holding any other pickled object is refused;
``model.json``
    what is needed to rebuild the model: its class, init arguments, registered AnnData setup, gene names and
    anything model-specific, plus the file-format version and the versions of sctl, scvi-tools and torch that
    saved it.

On load, a file written for another class, by a newer file format, or that is missing or malformed is refused
with an error saying what is wrong; versions of sctl, scvi-tools or torch that differ from the saving ones give a
:class:`UserWarning` naming both.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

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

    from .. import __version__

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
    dir_path: str | Path,
    cls_name: str,
    state: Mapping[str, Any],
    meta: Mapping[str, Any],
    *,
    overwrite: bool = False,
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
        JSON-serialisable settings: typically ``init`` (constructor arguments), ``setup`` (the registered AnnData
        setup) and ``var_names`` (genes, in order).
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

    Raises
    ------
    FileNotFoundError
        When the directory, ``model.json`` or ``model_state.pt`` is missing.
    TypeError
        When the directory holds a model of another class.
    ValueError
        When ``model.json`` is malformed or of a newer format than this sctl reads, or when ``model_state.pt``
        is not a plain tensor file (e.g. it holds other pickled objects, which are never unpickled).
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
