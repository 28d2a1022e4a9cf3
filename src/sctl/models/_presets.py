"""Presets: every model runs as its paper describes it (``"paper"``) or with sctl's measured defaults (``"sctl"``).

A model keeps one table per stage (constructor, ``train``): ``{"sctl": {...}, "paper": {...}}``, each mapping a
parameter name to its value under that preset. A parameter left at ``None`` by the user takes the preset's value;
a value the user passes wins. The resolved values, and the preset's name, are what the model records.

Each value of the ``"paper"`` table carries where it comes from in the model's methods page
(``docs/methods/*.md``): the paper (section or equation), the authors' released code where the paper is silent,
or sctl's own value where both are silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the presets every model accepts; the first is the default
PRESETS = ("sctl", "paper")


def check_preset(preset: str) -> str:
    """Return ``preset`` if it names a preset, else raise a :class:`ValueError` listing them.

    Examples
    --------
    >>> check_preset("paper")
    'paper'
    """
    if preset not in PRESETS:
        raise ValueError(
            f"Unknown preset {preset!r}: use 'sctl' (sctl's measured defaults) or 'paper' (every choice as the "
            "model's paper states it)."
        )
    return preset


def resolve_preset(preset: str, table: Mapping[str, Mapping[str, Any]], **given: Any) -> dict[str, Any]:
    """Values of the parameters in ``given``: the user's where not ``None``, else the preset's.

    Parameters
    ----------
    preset
        ``"sctl"`` or ``"paper"``.
    table
        ``{preset: {parameter: value}}``; both presets must list the same parameters.
    **given
        The values the user passed (``None``: not given).

    Returns
    -------
    The resolved parameters, ``given``'s keys in its order.

    Examples
    --------
    >>> table = {"sctl": {"lr": 1e-3, "batch_size": 128}, "paper": {"lr": 1e-4, "batch_size": 20}}
    >>> resolve_preset("paper", table, lr=None, batch_size=64)
    {'lr': 0.0001, 'batch_size': 64}
    """
    values = table[check_preset(preset)]
    unknown = [name for name in given if name not in values]
    if unknown:
        raise KeyError(f"Preset table has no value for {unknown}; add it to both presets.")
    return {name: values[name] if value is None else value for name, value in given.items()}
