"""Small helpers shared by the readers: opening (gzipped) text, column checks, reporting."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import logging
import os
import sys
import warnings
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from sctl._validate import preview

logger = logging.getLogger("sctl.datasets")

PathLike = str | os.PathLike

_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = r"\s+"


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


@contextlib.contextmanager
def decoding(path: PathLike, what: str):
    """Turn the errors of reading a binary, non-UTF-8 or cut gzip file into a :class:`ValueError` naming the file."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise ValueError(
            f"The {what} {str(path)!r} is not UTF-8 text ({error.reason} at byte {error.start}). Check that it is the "
            "right file, and re-save it as UTF-8 text (optionally gzipped)."
        ) from error
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(
            f"The {what} {str(path)!r} is a truncated or corrupted gzip file ({error}). Download or export it again."
        ) from error


def _scan(path: PathLike, what: str, sep: str) -> None:
    """Check the layout pandas does not: an empty file, repeated column names and rows of other lengths.

    pandas silently shifts a row with one field too many into the index and fills a short row with NaN. Every data
    row must have as many fields as the header, or all of them one more (a header without a name for the index
    column, as R's ``write.table`` writes).
    """
    with open_text(path, what) as handle, decoding(path, what):
        reader = csv.reader(handle, delimiter=sep) if sep != _WHITESPACE else (line.split() for line in handle)
        header: list[str] | None = None
        widths: dict[int, list[int]] = {}  # number of fields -> [first line with that many, number of rows]
        for number, fields in enumerate(reader, start=1):
            line = getattr(reader, "line_num", number)
            if not any(field.strip() for field in fields):
                continue
            if header is None:
                header = [field.strip() for field in fields]
                continue
            widths.setdefault(len(fields), [line, 0])[1] += 1
    if header is None:
        raise ValueError(f"The {what} {str(path)!r} is empty. Check the path, or export the table again.")
    repeated = sorted(name for name, count in Counter(header).items() if name and count > 1)
    if repeated:
        raise ValueError(
            f"The {what} has the column(s) {preview(repeated, 5)} more than once, so their values cannot be told "
            "apart. Keep one column per name (or aggregate the duplicates) and read the table again."
        )
    if not widths:
        return
    n_header = len(header)
    usual = max(widths, key=lambda width: (width == n_header, widths[width][1]))  # the header's, else the commonest
    if usual in (n_header, n_header + 1):
        odd = [width for width in widths if width != usual]
        if not odd:
            return
        bad = min(odd, key=lambda width: widths[width][0])
    else:
        bad = usual
    most = f" and most rows {usual}" if usual not in (n_header, bad) else ""
    raise ValueError(
        f"Line {widths[bad][0]} of the {what} has {bad} fields (separated by {sep!r}), but the header has "
        f"{n_header}{most}. pandas would shift or pad such a row silently: fix or remove that line (a separator "
        "inside a value needs quotes)."
    )


def read_table(path: PathLike, what: str = "table", **kwargs) -> pd.DataFrame:
    """Read a comma-, tab- or space-separated (optionally gzipped) table; the first line tells which.

    Empty files, repeated column names and rows with a field too many or too few raise a :class:`ValueError`
    naming the problem (pandas would read them silently into a shifted or padded table).
    """
    with open_text(path, what) as handle, decoding(path, what):
        first = handle.readline()
    sep = "\t" if "\t" in first else ("," if "," in first else _WHITESPACE)
    _scan(path, what, sep)
    with decoding(path, what):
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


def check_numeric(frame: pd.DataFrame, what: str, fix: str) -> None:
    """Raise a :class:`ValueError` naming the columns of ``frame`` (the ``what``) that are not numeric."""
    non_numeric = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    if non_numeric:
        raise ValueError(
            f"{what} must be numeric but {len(non_numeric)} columns are not, e.g. {preview(non_numeric, 5)}. {fix}"
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
