"""Tools: verbs that run analyses and models and write their results into the AnnData (scanpy style)."""

from ._predict_response import ResponseModel, predict_response

__all__ = ["ResponseModel", "predict_response"]
