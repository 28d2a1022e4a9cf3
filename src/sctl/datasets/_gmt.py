"""Reader of gene-set collections in GMT format."""

from __future__ import annotations

import pandas as pd

from sctl._validate import preview
from sctl.datasets._utils import PathLike, decoding, open_text, report


def _parse_line(line: str, number: int) -> tuple[str, list[str]]:
    """Return the set name and its genes (blank fields removed, duplicates dropped, order kept)."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 3:
        raise ValueError(
            f"Line {number} of the GMT file has {len(fields)} tab-separated field(s); a gene set needs "
            "at least 3 "
            "(name, description, genes...). Check that fields are separated by tabs, not spaces."
        )
    name = fields[0].strip()
    if not name:
        raise ValueError(f"Line {number} of the GMT file has an empty gene-set name. Give every set a name.")
    genes = [gene.strip() for gene in fields[2:] if gene.strip()]
    return name, list(dict.fromkeys(genes))


def _check_same_set(name: str, genes: list[str], again: list[str], first: int, number: int) -> None:
    """Raise a :class:`ValueError` when a set name comes back on line ``number`` with other genes than before."""
    if set(genes) == set(again):
        return
    only_first, only_again = sorted(set(genes) - set(again)), sorted(set(again) - set(genes))
    raise ValueError(
        f"The gene set {name!r} is on line {first} and again on line {number} of the GMT file, with other genes "
        f"({len(only_first)} only on line {first}, e.g. {preview(only_first, 3) or 'none'}; {len(only_again)} only "
        f"on line {number}, e.g. {preview(only_again, 3) or 'none'}). Two sets cannot share a name: rename one "
        "(e.g. add a suffix), or join them into one line if they are one set."
    )


def _filter_sizes(sets: dict[str, list[str]], min_size: int | None, max_size: int | None) -> dict[str, list[str]]:
    if min_size is not None and max_size is not None and min_size > max_size:
        raise ValueError(f"`min_size` ({min_size}) is larger than `max_size` ({max_size}). Swap or relax them.")
    low = min_size if min_size is not None else 1
    high = max_size if max_size is not None else float("inf")
    kept = {name: genes for name, genes in sets.items() if low <= len(genes) <= high}
    if not kept:
        sizes = [len(genes) for genes in sets.values() if genes]
        raise ValueError(
            f"No gene set of the GMT file has {low} to {high} genes (the {len(sizes)} non-empty sets have "
            f"{min(sizes)} to {max(sizes)}). Relax `min_size` / `max_size`."
        )
    if len(kept) < len(sets):
        report(f"Kept {len(kept)} of {len(sets)} gene sets with {low} to {high} genes.")
    return kept


def read_gmt(path: PathLike, *, min_size: int | None = None, max_size: int | None = None) -> pd.DataFrame:
    """Read a GMT gene-set file into a decoupler-style network with columns ``source`` and ``target``.

    Each line is ``name<TAB>description<TAB>gene<TAB>gene...``. Enrichr quirks are handled: empty
    descriptions, trailing tabs and blank gene fields. Genes listed twice in one set are kept once, and so is a
    set repeated on several lines with the same genes; a set name that comes back with other genes is refused
    (sctl: merging them would silently make one set of two). Gzipped files are detected from their content.

    Parameters
    ----------
    path
        The ``.gmt`` or ``.gmt.gz`` file.
    min_size, max_size
        Keep only sets with at least / at most this many (distinct) genes. Sets without genes are always
        dropped.

    Returns
    -------
    One row per (set, gene) pair: ``source`` = set name, ``target`` = gene.

    Raises
    ------
    ValueError
        When a line has fewer than 3 fields (naming the line), when a set name comes back with other genes (naming
        both lines), when the file holds no gene set with genes, or when no set has ``min_size`` to ``max_size``
        genes.

    Examples
    --------
    >>> net = sctl.datasets.read_gmt("go_bp_2023.gmt.gz", min_size=15, max_size=500)  # doctest: +SKIP
    >>> net.groupby("source").size().describe()  # doctest: +SKIP
    """
    sets: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    n_repeated = 0
    with open_text(path, "GMT file") as handle, decoding(path, "GMT file"):
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            name, genes = _parse_line(line, number)
            if name in sets:
                _check_same_set(name, sets[name], genes, first_line[name], number)
                n_repeated += 1
                continue
            sets[name], first_line[name] = genes, number
    if n_repeated:
        report(f"{n_repeated} lines of the GMT file repeat a gene set of an earlier line; each set is kept once.")
    if not any(sets.values()):
        raise ValueError(
            f"The GMT file {str(path)!r} holds no gene set with genes ({len(sets)} set names, all empty). Each line "
            "must be `name<TAB>description<TAB>gene<TAB>gene...`."
        )
    sets = _filter_sizes(sets, min_size, max_size)
    pairs = [(name, gene) for name, genes in sets.items() for gene in genes]
    return pd.DataFrame(pairs, columns=["source", "target"]).astype(str)
