"""How each method of :func:`sctl.tl.evaluate_response` learns from a fold's training data and scores its held-out part.

Every method name of :func:`sctl.tl.predict_response` has a :class:`FoldLearner` in :data:`LEARNERS`.
``lines_folds`` fits on each fold's training lines and yields the probabilities of its held-out lines (setting
``"bulk_cv"``); ``cells_folds`` yields those of each fold's held-out cells (setting ``"cells_cv"``). The setting
``"transfer"`` needs neither: every method learns there exactly as :func:`sctl.tl.predict_response` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl import pp
from sctl._constants import LABEL_KEY
from sctl.models.baselines import DecomposedRidge
from sctl.tl._evaluate_data import EvaluationData
from sctl.tl._response_methods import (
    DECOMPOSED,
    ENSEMBLE,
    MULTIDRUG,
    ResponseTask,
    WithBaselines,
    _accepted,
    _baseline,
    check_probabilities,
    ensemble_members,
    train_multidrug,
)

#: ``(train, test)`` positions of the labelled lines (``EvaluationData.labelled``), one pair per fold
LineFolds = Sequence[tuple[np.ndarray, np.ndarray]]
#: ``(train, test)`` names of the labelled cells, one pair per fold
CellFolds = Sequence[tuple[pd.Index, pd.Index]]


class FoldLearner(Protocol):
    """What :func:`sctl.tl.evaluate_response` needs of a method: its checks and its two cross-validations."""

    def check(self, model_kwargs: dict[str, Any] | None, has_cells: bool) -> None:
        """Refuse ``model_kwargs`` the method does not accept, or a run it cannot do (e.g. without cells)."""

    def lines_folds(self, data: EvaluationData, task: ResponseTask, folds: LineFolds) -> Iterator[np.ndarray]:
        """Per fold: fit on its training lines, yield the probabilities of its held-out lines."""

    def cells_folds(self, data: EvaluationData, task: ResponseTask, folds: CellFolds) -> Iterator[np.ndarray]:
        """Per fold: yield the probabilities of its held-out cells, never seen with their labels."""


@dataclass(frozen=True)
class Classifier:
    """A baseline classifier (:func:`sctl.models.baselines.get_baseline`) fitted on labelled lines alone."""

    method: str

    def check(self, model_kwargs: dict[str, Any] | None, has_cells: bool) -> None:
        _baseline(self.method, 0, model_kwargs)  # names the estimator does not accept raise here

    def lines_folds(self, data: EvaluationData, task: ResponseTask, folds: LineFolds) -> Iterator[np.ndarray]:
        for train, test in folds:
            model = self._fit(data.labelled[train], task)
            yield check_probabilities(model.predict(data.labelled[test]), len(test), self.method)

    def cells_folds(self, data: EvaluationData, task: ResponseTask, folds: CellFolds) -> Iterator[np.ndarray]:
        lines, cells = pp.align_genes(data.labelled, data.cells, min_shared=task.min_shared)
        model = self._fit(lines, task)  # it sees no cells: one fit serves every fold
        for _, test in folds:
            yield _held_out(model.predict, cells, test, self.method)

    def _fit(self, lines: AnnData, task: ResponseTask) -> Any:
        return _baseline(self.method, task.seed, task.model_kwargs).fit(lines, label_key=LABEL_KEY)


@dataclass(frozen=True)
class Decomposed:
    """:class:`~sctl.models.baselines.DecomposedRidge`, fitted on the response table of the training lines.

    It learns from every training line's response to every drug (the lines left unlabelled by the rule too, as
    :func:`sctl.tl.predict_response` does; they are never scored) and calibrates on the labelled ones; a held-out
    line's responses, to any drug, are never seen.
    """

    method: str = DECOMPOSED

    def check(self, model_kwargs: dict[str, Any] | None, has_cells: bool) -> None:
        _accepted(DecomposedRidge, model_kwargs, self.method)

    def lines_folds(self, data: EvaluationData, task: ResponseTask, folds: LineFolds) -> Iterator[np.ndarray]:
        for _, test in folds:
            held_out = data.labelled[test]
            model = self._fit(data.lines[~data.lines.obs_names.isin(held_out.obs_names)], task)
            yield self._proba(model, task.drug)(held_out)

    def cells_folds(self, data: EvaluationData, task: ResponseTask, folds: CellFolds) -> Iterator[np.ndarray]:
        lines, cells = pp.align_genes(data.lines, data.cells, min_shared=task.min_shared)
        predict = self._proba(self._fit(lines, task), task.drug)  # it sees no cells: one fit serves every fold
        for _, test in folds:
            yield _held_out(predict, cells, test, self.method)

    def _fit(self, lines: AnnData, task: ResponseTask) -> DecomposedRidge:
        labels = pd.DataFrame({task.drug: lines.obs[LABEL_KEY].astype(object)}, index=lines.obs_names)
        model = DecomposedRidge(**_accepted(DecomposedRidge, task.model_kwargs, self.method))
        return model.fit(lines, task.key, drugs=[task.drug], labels=labels)

    def _proba(self, model: DecomposedRidge, drug: str) -> Callable[[AnnData], np.ndarray]:
        return lambda rows: check_probabilities(model.predict(rows)[drug].to_numpy(), rows.n_obs, self.method)


class _TrainsOnCells:
    """A method that trains on cells: its check refuses a run without them, saying so in ``without_cells``."""

    without_cells: str

    def check(self, model_kwargs: dict[str, Any] | None, has_cells: bool) -> None:
        if not has_cells:
            raise ValueError(self.without_cells)


@dataclass(frozen=True)
class TransferModel(_TrainsOnCells):
    """A bulk-to-single-cell model, trained on labelled lines together with unlabelled cells.

    Bulk CV: trained on the training lines and all cells, it scores the held-out lines through its bulk path.
    Cells CV: trained on all labelled lines and the training folds' cells, it predicts the held-out cells.
    """

    method: str
    model_class: str  # its name in :mod:`sctl.models`

    @property
    def without_cells(self) -> str:
        return (
            f"Method {self.method!r} is a transfer model and needs cells to train on: pass the cells as `adata` and "
            "the bulk lines as `reference=`, or evaluate only methods that learn from the bulk alone."
        )

    def lines_folds(self, data: EvaluationData, task: ResponseTask, folds: LineFolds) -> Iterator[np.ndarray]:
        from sctl.models._transfer._data import _check_enough_labels, _stack

        bulk, cells = pp.align_genes(data.labelled, data.cells, min_shared=task.min_shared)
        pp.standardize(cells)
        for train, test in folds:
            stacked = _stack(bulk[train], cells, np.full(cells.n_obs, np.nan, dtype=object))
            _check_enough_labels(stacked.obs[LABEL_KEY][: len(train)], task.drug, 2)
            self._class().setup_anndata(stacked)
            model = self._class()(stacked, **{"seed": task.seed, **(task.model_kwargs or {})})
            model.train(**{"seed": task.seed, **(task.train_kwargs or {})})
            yield check_probabilities(_bulk_path(model, bulk[test]), len(test), self.method)

    def cells_folds(self, data: EvaluationData, task: ResponseTask, folds: CellFolds) -> Iterator[np.ndarray]:
        model_kwargs = {"seed": task.seed, **(task.model_kwargs or {})}
        data_kwargs = {**task.data_kwargs("bulk_layer"), **model_kwargs.pop("data_kwargs", {})}
        train_kwargs = {"seed": task.seed, **(task.train_kwargs or {})}
        for train, test in folds:
            model = self._class().from_reference(
                data.bulk,
                data.raw_cells[train].copy(),
                task.drug,
                data_kwargs=data_kwargs,
                train_kwargs=train_kwargs,
                **model_kwargs,
            )
            yield check_probabilities(model.predict(data.raw_cells[test].copy()), len(test), self.method)

    def _class(self) -> type:
        from sctl import models

        return getattr(models, self.model_class)


@dataclass(frozen=True)
class Ensemble:
    """The mean probability of the members, each learnt in every fold as on its own (its cost is theirs summed)."""

    method: str = ENSEMBLE

    def check(self, model_kwargs: dict[str, Any] | None, has_cells: bool) -> None:
        for member, member_kwargs in ensemble_members(model_kwargs).items():
            try:
                LEARNERS[member].check(member_kwargs, has_cells)
            except ValueError as error:
                raise ValueError(
                    f"Member {member!r} of the ensemble: {error} Members are set by "
                    "`model_kwargs={'ensemble': {'members': [...]}}`, e.g. ['decomposed_ridge', 'signature', 'rf']."
                ) from error

    def lines_folds(self, data: EvaluationData, task: ResponseTask, folds: LineFolds) -> Iterator[np.ndarray]:
        return self._mean(lambda learner, member_task: learner.lines_folds(data, member_task, folds), task)

    def cells_folds(self, data: EvaluationData, task: ResponseTask, folds: CellFolds) -> Iterator[np.ndarray]:
        return self._mean(lambda learner, member_task: learner.cells_folds(data, member_task, folds), task)

    @staticmethod
    def _mean(
        folds_of: Callable[[FoldLearner, ResponseTask], Iterator[np.ndarray]], task: ResponseTask
    ) -> Iterator[np.ndarray]:
        members = ensemble_members(task.model_kwargs)
        streams = [folds_of(LEARNERS[m], replace(task, model_kwargs=kwargs)) for m, kwargs in members.items()]
        for probabilities in zip(*streams, strict=True):
            yield np.mean(probabilities, axis=0)


def _bulk_path(model: Any, lines: AnnData) -> np.ndarray:
    """A trained transfer model's probabilities of bulk ``lines`` (standardised as its training lines were)."""
    import torch

    X = np.asarray(lines.X, dtype=np.float32)
    domain = np.zeros(lines.n_obs, dtype=np.float32)
    return model._batched(lambda x, d: torch.sigmoid(model.module.predict_logits(x, d)), X, domain)


def _held_out(predict: Callable[[AnnData], np.ndarray], cells: AnnData, names: pd.Index, method: str) -> np.ndarray:
    """Probabilities of the cells ``names``, standardised gene by gene on themselves (as any new sample is)."""
    held_out = cells[names].copy()
    pp.standardize(held_out)
    return check_probabilities(predict(held_out), len(names), method)


@dataclass(frozen=True)
class MultiDrug(_TrainsOnCells):
    """:class:`~sctl.models.MultiDrugTransfer`: one network of every drug, evaluated on labelled cells only.

    Cells CV: trained on the reference and the training folds' cells, it predicts the held-out cells. Bulk CV is
    refused: every fold would train a network of every drug on the fold's response table.
    """

    without_cells: ClassVar[str] = (
        f"Method {MULTIDRUG!r} trains on cells and the reference together: pass the labelled cells as `adata`, "
        "the bulk as `reference=` and `truth_key=`, with `protocol='cells_cv'`."
    )

    def lines_folds(self, data: EvaluationData, task: ResponseTask, folds: LineFolds) -> Iterator[np.ndarray]:
        raise ValueError(
            f"Method {MULTIDRUG!r} is not cross-validated on the reference lines (one network of every drug per "
            "fold); evaluate it on labelled cells with `protocol='cells_cv'`."
        )

    def cells_folds(self, data: EvaluationData, task: ResponseTask, folds: CellFolds) -> Iterator[np.ndarray]:
        for train, test in folds:
            model = train_multidrug(data.raw_cells[train].copy(), data.bulk, task, [task.drug])
            yield check_probabilities(model.predict(data.raw_cells[test].copy(), drug=task.drug), len(test), MULTIDRUG)


#: method name -> how :func:`sctl.tl.evaluate_response` cross-validates it; the names of :func:`predict_response`
LEARNERS: Mapping[str, FoldLearner] = WithBaselines(
    {
        DECOMPOSED: Decomposed(),
        ENSEMBLE: Ensemble(),
        "pathway_transfer": TransferModel("pathway_transfer", "PathwayTransfer"),
        "atsdp": TransferModel("atsdp", "ATSDPNet"),
        MULTIDRUG: MultiDrug(),
    },
    Classifier,
)
