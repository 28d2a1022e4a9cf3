"""Docstring fragments shared by many functions, filled into their docstrings at import time.

A docstring line that holds only ``{name}``, e.g. ``{show_save}`` among the parameters of a plot, is replaced by
the fragment ``name``, every line of it indented as the placeholder is: scanpy's ``_doc_params`` and decoupler's
docstring processor do the same. Decorate the function (or class, or method) with :func:`doc_params`; the
fragments of :data:`FRAGMENTS` are known everywhere, a module passes its own as keyword arguments. The docstring
is complete once the module is imported, so :func:`inspect.getdoc`, :func:`help`, doctest and Sphinx's autodoc
read the filled text.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_PLACEHOLDER = re.compile(r"^([ \t]*)\{(\w+)\}[ \t]*$", re.M)


def _fragment(text: str) -> str:
    """The fragment written as an indented triple-quoted block, without its indentation and outer blank lines."""
    return textwrap.dedent(text).strip("\n")


#: the fragments every module can name, by placeholder
FRAGMENTS: dict[str, str] = {
    # ------------------------------------------------------------------------------------------------ plots
    "show_save": _fragment(
        """
        show
            Show the figure (default: when not saving). When not shown, the figure is returned.
        save
            Path to write the figure to (format from the extension).
        """
    ),
    "ax": _fragment(
        """
        ax
            Axes to draw into (``None``: a new figure).
        """
    ),
    "returns_figure": _fragment(
        """
        Returns
        -------
        The figure, unless ``show`` is ``True``.
        """
    ),
    # ------------------------------------------------------------------------------------------- pp and tl
    "copy": _fragment(
        """
        copy
            Return a copy instead of writing into ``adata``.
        """
    ),
    "returns_copy": _fragment(
        """
        Returns
        -------
        ``None``, or the copy of ``adata`` when ``copy=True``.
        """
    ),
    "layer": _fragment(
        """
        layer
            Layer with the expression (``None``: ``X``).
        """
    ),
    # ------------------------------------------------------------------------------------ training a model
    "trainer_args": _fragment(
        """
        accelerator
            Lightning accelerator: ``"auto"`` (a GPU when there is one, else the CPU), ``"cpu"``, ``"gpu"``,
            ``"mps"``.
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer` (Lightning's ``Trainer``), e.g. ``devices=2`` (one device by
            default) with a ``strategy``, ``callbacks=[...]``, ``logger``.
        """
    ),
    "validation_args": _fragment(
        """
        train_size
            Share of the rows trained on; the rest is the validation set (``validation_loss``), which early
            stopping watches.
        early_stopping
            Stop when ``validation_loss`` has not improved for ``patience`` epochs (needs ``train_size < 1``).
        patience
            Epochs without improvement before stopping.
        """
    ),
    "adata_preset": _fragment(
        """
        adata
            AnnData registered with :meth:`setup_anndata`.
        preset
            ``"sctl"`` or ``"paper"``: where the arguments left at ``None`` take their values.
        """
    ),
    "register_kwargs": _fragment(
        """
        **kwargs
            Passed to :meth:`scvi.data.AnnDataManager.register_fields`.
        """
    ),
    # ----------------------------------------------------------------------------------- example preambles
    "bulk_without_tumor_lines": _fragment(
        """
        >>> import sctl
        >>> bulk = sctl.datasets.gdsc()
        >>> cells = sctl.datasets.tumor("Dabrafenib", n_cells=300)
        >>> bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])].copy()
        """
    ),
    "plate_with_basal": _fragment(
        """
        >>> import sctl
        >>> plate = sctl.datasets.lincs()
        >>> sctl.pp.match_controls(plate, control="DMSO")
        """
    ),
    "plate_with_delta": _fragment(
        """
        >>> import sctl
        >>> plate = sctl.datasets.lincs()
        >>> sctl.pp.match_controls(plate, control="DMSO")
        >>> sctl.pp.log_fold_change(plate)
        """
    ),
}


def tl_result_params(verb: str, adata: str) -> str:
    """The ``adata`` and ``key`` parameters of a plot that reads what :func:`sctl.tl.<verb>` wrote, as a fragment.

    Parameters
    ----------
    verb
        The tool's name in :mod:`sctl.tl`, e.g. ``"screen_drugs"``.
    adata
        What ``adata`` is, up to the tool's name, e.g. ``"Cells screened by"``.

    Returns
    -------
    The fragment, to pass to :func:`doc_params` (e.g. as ``adata_key=``).

    Examples
    --------
    >>> print(tl_result_params("rank_drugs", "Samples ranked by"))
    adata
        Samples ranked by :func:`sctl.tl.rank_drugs`.
    key
        The ``key_added`` of :func:`sctl.tl.rank_drugs`.
    """
    return f"adata\n    {adata} :func:`sctl.tl.{verb}`.\nkey\n    The ``key_added`` of :func:`sctl.tl.{verb}`."


def fill_doc(doc: str, fragments: dict[str, str]) -> str:
    r"""Replace every line that holds only ``{name}`` by ``fragments[name]``, indented as that line.

    A fragment may itself hold placeholder lines; they are filled the same way.

    Parameters
    ----------
    doc
        A docstring, as written in the source (indented).
    fragments
        Fragment text by placeholder name, each without indentation.

    Returns
    -------
    The filled docstring. A :class:`KeyError` names a placeholder without a fragment, a :class:`ValueError` a
    fragment that holds itself.

    Examples
    --------
    >>> fill_doc("Summary.\n\n    {a}\n", {"a": "x\n    Value."})
    'Summary.\n\n    x\n        Value.\n'
    """
    return _fill(doc, fragments, ())


def _fill(doc: str, fragments: dict[str, str], filling: tuple[str, ...]) -> str:
    """:func:`fill_doc` inside the fragments ``filling`` (outermost first)."""

    def indented(match: re.Match[str]) -> str:
        indent, name = match.groups()
        if name not in fragments:
            raise KeyError(f"No docstring fragment {{{name}}}: add it to sctl._docs.FRAGMENTS or pass it.")
        if name in filling:
            raise ValueError(f"The docstring fragment {{{name}}} holds itself (through {' -> '.join(filling)}).")
        return textwrap.indent(_fill(fragments[name], fragments, (*filling, name)), indent)

    return _PLACEHOLDER.sub(indented, doc)


def doc_params(**fragments: str) -> Callable[[T], T]:
    r"""Decorator that fills the ``{name}`` placeholder lines of a function's or class's docstring.

    Parameters
    ----------
    **fragments
        Fragments of this module, by placeholder name, besides those of :data:`FRAGMENTS` (a name given here
        wins).

    Returns
    -------
    The decorator; it returns the object itself, its ``__doc__`` filled. A :class:`ValueError` says when the
    docstring has no placeholder, a :class:`KeyError` names one without a fragment.

    Examples
    --------
    >>> @doc_params(value="x\n    The value.")
    ... def identity(x):
    ...     '''Return x.
    ...
    ...     Parameters
    ...     ----------
    ...     {value}
    ...     '''
    ...     return x
    >>> import inspect
    >>> inspect.getdoc(identity).splitlines()[-2:]
    ['x', '    The value.']
    """
    known = {**FRAGMENTS, **{name: _fragment(text) for name, text in fragments.items()}}

    def decorate(obj: T) -> T:
        if obj.__doc__ is None:  # python -OO strips docstrings
            return obj
        if not _PLACEHOLDER.search(obj.__doc__):
            raise ValueError(f"{obj.__qualname__}'s docstring has no {{placeholder}} line: drop @doc_params.")
        obj.__doc__ = fill_doc(obj.__doc__, known)
        return obj

    return decorate
