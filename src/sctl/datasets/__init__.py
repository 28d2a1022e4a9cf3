"""Readers of public drug-response formats and the real data shipped with sctl."""

from ._embedded import gdsc, genesets, lincs, ppi, progeny
from ._gct import read_gct, read_gctx, write_gctx
from ._gdsc import (
    add_response,
    normalize_cell_line_name,
    read_cell_lines,
    read_drugs,
    read_expression,
    read_gdsc,
    read_gdsc_response,
)
from ._gmt import read_gmt
from ._ppi import read_ppi
from ._states import state_markers
from ._tumor import realistic_tumor, tumor

__all__ = [
    "add_response",
    "gdsc",
    "genesets",
    "lincs",
    "normalize_cell_line_name",
    "ppi",
    "progeny",
    "read_cell_lines",
    "read_drugs",
    "read_expression",
    "read_gct",
    "read_gctx",
    "read_gdsc",
    "read_gdsc_response",
    "read_gmt",
    "read_ppi",
    "realistic_tumor",
    "state_markers",
    "tumor",
    "write_gctx",
]
