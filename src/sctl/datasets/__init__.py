"""Readers of public drug-response formats and the real data shipped with sctl."""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "add_response": "._gdsc",
        "gdsc": "._embedded",
        "genesets": "._embedded",
        "lincs": "._embedded",
        "normalize_cell_line_name": "._gdsc",
        "ppi": "._embedded",
        "progeny": "._embedded",
        "read_cell_lines": "._gdsc_tables",
        "read_drugs": "._gdsc_tables",
        "read_expression": "._gdsc_tables",
        "read_gct": "._gct",
        "read_gctx": "._gct",
        "read_gdsc": "._gdsc",
        "read_gdsc_response": "._gdsc_tables",
        "read_gmt": "._gmt",
        "read_ppi": "._ppi",
        "realistic_tumor": "._tumor",
        "state_markers": "._states",
        "tumor": "._tumor",
        "write_gctx": "._gct",
    },
)
