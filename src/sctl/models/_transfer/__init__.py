"""Code shared by the bulk-to-single-cell transfer models (:class:`~sctl.models.PathwayTransfer`, ATSDP-NET).

- ``_data``: :func:`transfer_data` (bulk lines and cells aligned, standardised per domain, labelled and stacked);
- ``_base``: :class:`TransferModel`, their base (registration, save / load, :meth:`~TransferModel.from_reference`),
  with ``_training`` (training in phases) and ``_predict`` (prediction streamed in chunks);
- ``_training_plan``: :class:`PhaseTrainingPlan`, the Lightning plan of one phase.
"""

from sctl._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "PhaseTrainingPlan": "._training_plan",
        "TransferModel": "._base",
        "transfer_data": "._data",
    },
)
