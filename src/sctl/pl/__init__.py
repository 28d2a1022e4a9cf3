"""Plots that read what :mod:`sctl.tl` wrote; they chain with scanpy's and take ``show=`` / ``save=``."""

from ._response import response

__all__ = ["response"]
