"""Plumbing shared by sctl's scvi-tools models: field registration, preset resolution and the training runs.

Each model keeps its own explicit ``__init__``, ``setup_anndata`` and ``train`` signatures; what they do with their
arguments once checked lives here, once. A model passes its call's ``locals()`` where a helper reads its
arguments, as scvi-tools' ``_get_init_params(locals())`` and ``_get_setup_method_args(**locals())`` do: the preset
table then says which arguments it sets, and no hand-kept list repeats them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from anndata import AnnData
from scvi.data import AnnDataManager
from scvi.data.fields import BaseAnnDataField

from sctl.models._conditions import train_seeded
from sctl.models._presets import check_preset, resolve_preset

#: settings of a perturbation model's ``train`` table that size the run; the others go to the training plan
RUN_SETTINGS = ("max_epochs", "batch_size")
#: arguments of a perturbation model's ``train`` that reach :func:`~sctl.models._conditions.train_seeded` as given
SEEDED_ARGUMENTS = ("train_size", "early_stopping", "patience", "seed", "accelerator", "trainer_kwargs")
#: settings of a transfer model's ``train`` table that every phase's run takes
PHASE_SETTINGS = ("batch_size", "train_size", "early_stopping", "patience", "balance")


def register_fields(
    model_cls: Any,
    adata: AnnData,
    fields: Sequence[BaseAnnDataField],
    setup_method_args: dict[str, Any],
    **kwargs: Any,
) -> None:
    """Register ``fields`` of ``adata`` with a new :class:`~scvi.data.AnnDataManager` of ``model_cls``.

    The last step of every ``setup_anndata``: the manager registers the fields (``kwargs``, e.g. a saved model's
    ``source_registry``, go to :meth:`~scvi.data.AnnDataManager.register_fields`) and the model class keeps it.

    Examples
    --------
    >>> fields = [LayerField("X", None, is_count_data=False)]  # doctest: +SKIP
    >>> register_fields(cls, adata, fields, cls._get_setup_method_args(**locals()), **kwargs)  # doctest: +SKIP
    """
    manager = AnnDataManager(fields=list(fields), setup_method_args=setup_method_args)
    manager.register_fields(adata, **kwargs)
    model_cls.register_manager(manager)


def preset_arguments(table: Mapping[str, Mapping[str, Any]], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a call (its ``locals()``) that the preset ``table`` sets, in the table's order.

    Examples
    --------
    >>> table = {"sctl": {"lr": 1e-3}, "paper": {"lr": 1e-4}}
    >>> preset_arguments(table, {"self": None, "lr": None, "seed": 0})
    {'lr': None}
    """
    names = list(next(iter(table.values())))
    missing = [name for name in names if name not in arguments]
    if missing:
        raise KeyError(f"The preset table sets {missing}, which the call does not take; drop them from the table.")
    return {name: arguments[name] for name in names}


def preset_settings(
    preset: str, table: Mapping[str, Mapping[str, Any]], arguments: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings of a call under ``preset``: each argument the table sets, the preset's value where ``None``.

    Examples
    --------
    >>> table = {"sctl": {"lr": 1e-3, "batch_size": 128}, "paper": {"lr": 1e-4, "batch_size": 20}}
    >>> preset_settings("paper", table, {"lr": None, "batch_size": 64, "seed": 0})
    {'lr': 0.0001, 'batch_size': 64}
    """
    return resolve_preset(check_preset(preset), table, **preset_arguments(table, arguments))


def init_settings(model: Any, table: Mapping[str, Mapping[str, Any]], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor's settings under its ``preset``, which is checked and kept as ``model.preset``.

    ``arguments`` are the constructor's ``locals()``; see :func:`preset_settings`.
    """
    model.preset = check_preset(arguments["preset"])
    return preset_settings(model.preset, table, arguments)


def train_with_preset(
    model: Any,
    table: Mapping[str, Mapping[str, Any]],
    arguments: Mapping[str, Any],
    *,
    plan_kwargs: Mapping[str, Any] | None = None,
    datasplitter_kwargs: dict[str, Any] | None = None,
    monitor: str = "validation_loss",
) -> None:
    """Train a perturbation model (``train``'s ``arguments``, its ``locals()``) with the settings of its preset.

    The settings ``table`` sets are resolved with ``model.preset`` and kept in ``model.train_settings_``; those
    besides :data:`RUN_SETTINGS` go to the training plan with ``plan_kwargs``; the run is
    :func:`~sctl.models._conditions.train_seeded`, with the :data:`SEEDED_ARGUMENTS` read from ``arguments`` and
    early stopping (when asked) on the validation metric ``monitor``.
    """
    settings = preset_settings(model.preset, table, arguments)
    model.train_settings_ = settings
    plan = {name: value for name, value in settings.items() if name not in RUN_SETTINGS}
    train_seeded(
        model,
        {**plan, **(plan_kwargs or {})},
        **{name: settings[name] for name in RUN_SETTINGS},
        **{name: arguments[name] for name in SEEDED_ARGUMENTS},
        monitor=monitor,
        datasplitter_kwargs=datasplitter_kwargs,
    )


def train_phases_with_preset(
    model: Any,
    values: Mapping[str, Any],
    epochs: dict[str, int],
    plan_kwargs: dict[str, dict[str, Any]],
    arguments: Mapping[str, Any],
) -> None:
    """Train a transfer model phase by phase with its resolved ``train`` settings ``values``.

    ``epochs`` and ``plan_kwargs`` give each phase's epochs and training-plan arguments (the autoencoders'
    phase is ``"pretrain"``); every phase runs with the :data:`PHASE_SETTINGS` of ``values`` and the
    ``accelerator``, ``seed`` and ``trainer_kwargs`` of ``arguments`` (``train``'s ``locals()``).
    ``train_params_`` records the settings, the pretraining epochs and the seed.
    """
    seed = arguments["seed"]
    model.train_params_ = {**values, "pretrain_epochs": epochs["pretrain"], "seed": seed}
    model._train_phases(
        epochs,
        **{name: values[name] for name in PHASE_SETTINGS},
        accelerator=arguments["accelerator"],
        seed=seed,
        plan_kwargs=plan_kwargs,
        trainer_kwargs=arguments["trainer_kwargs"],
    )
