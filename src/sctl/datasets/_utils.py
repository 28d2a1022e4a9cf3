"""Small helpers shared by the readers: opening (gzipped) text, column checks, reporting."""

from __future__ import annotations

import gzip
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .._validate import preview

logger = logging.getLogger("sctl.datasets")

PathLike = str | os.PathLike

_GZIP_MAGIC = b"\x1f\x8b"


def as_existing_path(path: PathLike, what: str = "file") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`; a :class:`FileNotFoundError` when it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The {what} {str(path)!r} does not exist. Check the path (it is read as given).")
    return path


def is_gzipped(path: Path) -> bool:
    """Tell whether ``path`` starts with the gzip magic bytes (whatever its suffix)."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_text(path: PathLike, what: str = "file") -> io.TextIOBase:
    """Open a plain or gzipped text file for reading (UTF-8), detecting gzip from its content."""
    path = as_existing_path(path, what)
    if is_gzipped(path):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_table(path: PathLike, what: str = "table", **kwargs) -> pd.DataFrame:
    """Read a comma-, tab- or space-separated (optionally gzipped) table; the first line tells which."""
    with open_text(path, what) as handle:
        first = handle.readline()
    sep = "\t" if "\t" in first else ("," if "," in first else r"\s+")
    return pd.read_csv(as_existing_path(path, what), sep=sep, **kwargs)


def check_columns(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    """Raise a :class:`ValueError` naming the expected and the found columns when some are missing."""
    required = list(required)
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(
            f"The {what} lacks the column(s) {preview(missing)}. Expected columns: {preview(required)}; "
            f"found: {preview(frame.columns)}. Rename the columns or pass their names as arguments."
        )


def _outside_stacklevel() -> int:
    """Stack level of the first caller outside the sctl package, so that warnings point at the user's code."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def report(message: str, *, warn: bool = False) -> None:
    """Log ``message`` (INFO) or, for things that changed the data, emit it as a :class:`UserWarning`."""
    if warn:
        warnings.warn(message, UserWarning, stacklevel=_outside_stacklevel())
    else:
        logger.info(message)
