"""Renamed keyword arguments: the old name keeps working for one release, with a :class:`FutureWarning`."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: the release from which an old argument name raises a :class:`TypeError`
REMOVED_IN = "0.3.0"


def renamed_arguments(**renames: str) -> Callable[[F], F]:
    """Let ``func`` take each old keyword ``old=new`` as ``new``, warning that ``old`` goes away in :data:`REMOVED_IN`.

    The signature seen by :func:`inspect.signature` stays the new one. Passing an old name beside its new one is
    a :class:`TypeError`.

    Examples
    --------
    >>> @renamed_arguments(key_added="key")  # doctest: +SKIP
    ... def plot(adata, *, key="sctl_result"): ...
    """

    def decorate(func: F) -> F:
        name = ".".join(part for part in f"{func.__module__}.{func.__qualname__}".split(".") if part[0] != "_")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{name}() got `{old}=` and its new name `{new}=`: pass `{new}=` only.")
                warnings.warn(
                    f"`{old}=` of {name}() is renamed `{new}=`; the old name stops working in sctl {REMOVED_IN}.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
