"""Lazy exports of a namespace (PEP 562), so ``import sctl`` does not import torch, scvi-tools or decoupler.

Each namespace's ``__init__`` names its exports in one dict, public name -> sub-module holding it, and attaches
the lazy hooks::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"qc": "._qc", "baselines": ".baselines"})

A name is imported on first access (``sctl.pp.qc``, ``from sctl.pp import qc``) and then cached in the
namespace; ``dir()`` and tab completion list every export (and nothing else public) before any is imported. A
value equal to ``"." + name`` exports the sub-module itself (``sctl.models.baselines``). Adding an export is one
line of the dict.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``__getattr__``, ``__dir__`` and ``__all__`` of a namespace whose exports are imported on access.

    Parameters
    ----------
    package
        The namespace's ``__name__``.
    exports
        Public name -> sub-module holding it, relative to ``package`` (``"._qc"``); ``"." + name`` exports the
        sub-module itself.

    Returns
    -------
    The module-level ``__getattr__`` and ``__dir__`` hooks and the ``__all__`` list (the names of ``exports``).

    Examples
    --------
    >>> __getattr__, __dir__, __all__ = lazy_exports(__name__, {"qc": "._qc"})  # doctest: +SKIP
    """
    exports = dict(exports)

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name], package)
        value = module if exports[name] == f".{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)  # cached: the next access does not come here
        return value

    def __dir__() -> list[str]:  # the exports and dunders, not the helpers and private modules of the namespace
        return sorted(set(exports) | {name for name in vars(sys.modules[package]) if name.startswith("__")})

    return __getattr__, __dir__, list(exports)
