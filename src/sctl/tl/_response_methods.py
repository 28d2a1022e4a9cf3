"""The methods of :func:`sctl.tl.predict_response`: a registry of names, each fitted on the reference, scoring cells."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl import pp
from sctl._constants import LABEL_KEY, RESISTANT, SENSITIVE
from sctl._validate import closest, preview
from sctl.models._transfer._data import standardization, standardize_domain, standardize_domains
from sctl.models.baselines import BASELINES, get_baseline
from sctl.tl._response_stream import CellScan, linear_scores

logger = logging.getLogger(__name__)

TRANSFER_METHODS = ("pathway_transfer", "atsdp")
MULTIDRUG = "multidrug"
ENSEMBLE = "ensemble"
DECOMPOSED = "decomposed_ridge"
#: the method of :func:`sctl.tl.predict_response` and :func:`sctl.tl.screen_drugs` when none is named
DEFAULT_METHOD = DECOMPOSED
#: members of ``method="ensemble"`` (the default of sctl 0.2; docs/methods/ensemble.md)
ENSEMBLE_MEMBERS = ("signature", "rf", "atsdp")


@dataclass(frozen=True)
class ResponseTask:
    """What every method learns from: the drug, the reference's response table and label rule, how data are read."""

    drug: str
    key: str
    label_rule: dict[str, Any]
    layers: tuple[str | None, str | None]
    min_shared: float | int
    standardize_rows: bool | None
    seed: int
    model_kwargs: dict[str, Any] | None = None
    train_kwargs: dict[str, Any] | None = None

    def data_kwargs(self, reference_layer_name: str) -> dict[str, Any]:
        """Response key, label rule, layers, gene overlap and seed, as a transfer model's data preparation takes them.

        ``reference_layer_name`` is how that preparation names the reference's layer (``"bulk_layer"`` for
        :func:`~sctl.models.transfer_data`, ``"reference_layer"`` for :func:`~sctl.models.multidrug_data`);
        ``standardize_rows`` is left out when ``None``, so that the model's preset decides.
        """
        rule = self.label_rule
        kwargs = {
            "key": self.key,
            "label_method": rule["method"],
            "k": rule["k"],
            "label_threshold": rule["threshold"],
            "layer": self.layers[0],
            reference_layer_name: self.layers[1],
            "min_shared": self.min_shared,
            "seed": self.seed,
        }
        if self.standardize_rows is not None:
            kwargs["standardize_rows"] = self.standardize_rows
        return kwargs

    def params(self, method: str, n_genes: int, counts: tuple[int, int], standardized: str) -> dict[str, Any]:
        """The parameters every method records in ``uns``; ``counts``: labelled sensitive and resistant lines."""
        params = {
            "method": method,
            "drug": self.drug,
            "key": self.key,
            "label_rule": {k: v for k, v in self.label_rule.items() if v is not None},
            "layer": self.layers[0],
            "reference_layer": self.layers[1],
            "standardization": standardized,
            "n_genes_shared": int(n_genes),
            "n_reference_sensitive": int(counts[0]),
            "n_reference_resistant": int(counts[1]),
            "seed": self.seed,
        }
        if self.model_kwargs:
            simple = {k: v for k, v in self.model_kwargs.items() if isinstance(v, int | float | str | bool)}
            params["model_kwargs"] = simple
        return params


Fitter = Callable[[AnnData, AnnData, ResponseTask, str], tuple[np.ndarray, dict[str, Any]]]


def method_names() -> tuple[str, ...]:
    """Every name ``method=`` accepts (the regression baseline ``"ridge"`` excluded)."""
    return tuple(METHODS)


def learn_response(cells: AnnData, reference: AnnData, task: ResponseTask, method: str) -> tuple[np.ndarray, dict]:
    """Fit ``method`` on the reference and return the cells' probabilities of "sensitive" and the parameters."""
    if method not in METHODS:
        hint = " `'ridge'` is a regression baseline; classify with another." if method == "ridge" else ""
        raise ValueError(
            f"Unknown method {method!r}.{closest(method, METHODS)}{hint} Valid names: {preview(list(METHODS), 20)}."
        )
    return METHODS[method](cells, reference, task, method)


def _standardized_pair(cells: AnnData, reference: AnnData, task: ResponseTask) -> tuple[AnnData, AnnData, bool]:
    """Gene-aligned copies of reference and cells, each standardised on its own; and whether rows were z-scored."""
    rows = True if task.standardize_rows is None else task.standardize_rows
    bulk, aligned = pp.align_genes(reference, cells, min_shared=task.min_shared)
    standardize_domains(bulk, aligned, layers=(task.layers[1], task.layers[0]), standardize_rows=rows)
    pp.binarize_response(bulk, task.drug, key=task.key, key_added=LABEL_KEY, **task.label_rule)
    return bulk, aligned, rows


def _learn_baseline(cells: AnnData, reference: AnnData, task: ResponseTask, method: str) -> tuple[np.ndarray, dict]:
    classifier = _baseline(method, task.seed, task.model_kwargs)
    bulk, aligned, rows = _standardized_pair(cells, reference, task)
    logger.info("predict_response: %s on %d shared genes", method, bulk.n_vars)
    classifier.fit(bulk, label_key=LABEL_KEY)
    proba = check_probabilities(classifier.predict(aligned), cells.n_obs, method)
    return proba, task.params(method, bulk.n_vars, _label_counts(bulk), standardization(rows))


def _learn_decomposed(cells: AnnData, reference: AnnData, task: ResponseTask, method: str) -> tuple[np.ndarray, dict]:
    proba, _, params = screen_decomposed(cells, reference, task, [task.drug])
    return proba.iloc[:, 0].to_numpy(), params


def screen_decomposed(
    cells: AnnData, reference: AnnData, task: ResponseTask, drugs: list[str]
) -> tuple[pd.DataFrame, tuple[pd.Series, pd.DataFrame], dict[str, Any]]:
    """Fit :class:`~sctl.models.baselines.DecomposedRidge` once for ``drugs``; probabilities, parts and parameters.

    ``task.drug`` names the drug whose label counts are recorded (the first of ``drugs`` in a screen).
    """
    model = _decomposed_model(task)
    bulk, aligned, rows = _standardized_pair(cells, reference, task)
    params = _fit_decomposed(model, bulk, task, drugs, rows)
    general, specific = model.predict_parts(aligned)
    proba = model.to_probability(specific.add(general, axis=0))
    for drug in drugs:
        check_probabilities(proba[drug].to_numpy(), cells.n_obs, DECOMPOSED)
    return proba, (general, specific), params


def stream_decomposed(
    scan: CellScan, reference: AnnData, task: ResponseTask, drugs: list[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`screen_decomposed` on a large input: fitted on the reference alone, the cells scored chunk by chunk.

    The scanned cells (:func:`~sctl.tl._response_stream.scan_cells`, their scored cells) are standardised as
    :func:`screen_decomposed` standardises them, through their exact per-gene statistics, and never held whole.

    Returns
    -------
    ``(probabilities, parts, params)``: scored cells x drugs, and scored cells x (general, one column per drug)
    in z units (low = sensitive).
    """
    model = _decomposed_model(task)
    rows = True if task.standardize_rows is None else task.standardize_rows
    bulk, _ = pp.align_genes(reference, AnnData(var=pd.DataFrame(index=scan.genes)), min_shared=task.min_shared)
    standardize_domain(bulk, task.layers[1], rows)
    pp.binarize_response(bulk, task.drug, key=task.key, key_added=LABEL_KEY, **task.label_rule)
    params = _fit_decomposed(model, bulk, task, drugs, rows)
    parts = linear_scores(scan, *model.linear_parts())
    proba = model.proba_from_parts(parts)
    for column in proba.T:
        check_probabilities(column, scan.n_scored, DECOMPOSED)
    return proba, parts, params


def _decomposed_model(task: ResponseTask) -> Any:
    """A new :class:`~sctl.models.baselines.DecomposedRidge`, ``model_kwargs`` checked before anything is read."""
    from sctl.models.baselines import DecomposedRidge

    return DecomposedRidge(**_accepted(DecomposedRidge, task.model_kwargs, DECOMPOSED))


def _fit_decomposed(model: Any, bulk: AnnData, task: ResponseTask, drugs: list[str], rows: bool) -> dict[str, Any]:
    """Fit ``model`` on the standardised, labelled ``bulk`` for ``drugs``; return the parameters to record."""
    logger.info("%s on %d shared genes, %d drug(s)", DECOMPOSED, bulk.n_vars, len(drugs))
    labels = pd.DataFrame({drug: _labels(bulk, drug, task) for drug in drugs}, index=bulk.obs_names)
    model.fit(bulk, task.key, drugs=drugs, labels=labels)
    params = task.params(DECOMPOSED, bulk.n_vars, _label_counts(bulk), standardization(rows))
    params["alpha"], params["specific_weight"] = model.alpha, model.specific_weight
    return params


def _labels(bulk: AnnData, drug: str, task: ResponseTask) -> pd.Series:
    """The reference lines' labels for ``drug`` under the task's rule (a table only: nothing copied)."""
    table = AnnData(obs=pd.DataFrame(index=bulk.obs_names.copy()), obsm={task.key: bulk.obsm[task.key]})
    pp.binarize_response(table, drug, key=task.key, key_added=LABEL_KEY, **task.label_rule)
    return table.obs[LABEL_KEY].astype(object)


def _label_counts(bulk: AnnData) -> tuple[int, int]:
    """Reference lines labelled sensitive and resistant."""
    labels = bulk.obs[LABEL_KEY]
    return int((labels == SENSITIVE).sum()), int((labels == RESISTANT).sum())


def _accepted(cls: type, model_kwargs: dict[str, Any] | None, method: str) -> dict[str, Any]:
    """``model_kwargs`` checked against the keyword arguments of ``cls``."""
    model_kwargs = model_kwargs or {}
    accepted = [name for name in inspect.signature(cls).parameters if name != "seed"]
    unknown = sorted(set(model_kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"`model_kwargs` has names that {method!r} does not accept: {preview(unknown)}. Accepted names: "
            f"{preview(accepted, 40)}."
        )
    return model_kwargs


def _baseline(method: str, seed: int, model_kwargs: dict[str, Any] | None) -> Any:
    """A new baseline; ``model_kwargs`` its estimator's arguments, names checked before anything is fitted."""
    classifier = get_baseline(method, seed=seed)
    if not model_kwargs:
        return classifier
    estimator = classifier._build_estimator("classification", np.array([0, 1]))
    estimator = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    own = [p for p in inspect.signature(type(classifier)).parameters if p not in ("seed", "estimator_kwargs")]
    accepted = sorted({*own, *(estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {})})
    accepted = [name for name in accepted if name not in ("random_state", "seed")]
    unknown = sorted(set(model_kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"`model_kwargs` has names that {method!r} does not accept: {preview(unknown)}. Accepted names: "
            f"{preview(accepted, 40)}."
        )
    return get_baseline(method, seed=seed, **model_kwargs)


def _learn_ensemble(cells: AnnData, reference: AnnData, task: ResponseTask, method: str) -> tuple[np.ndarray, dict]:
    """Mean of the members' probabilities, each learnt exactly as ``predict_response(method=member)`` would."""
    probabilities, params = [], {}
    for member, member_kwargs in ensemble_members(task.model_kwargs).items():
        proba, params = METHODS[member](cells, reference, replace(task, model_kwargs=member_kwargs), member)
        probabilities.append(proba)
    params = {k: v for k, v in params.items() if k != "model_kwargs"}
    members = list(ensemble_members(task.model_kwargs))
    return np.mean(probabilities, axis=0), {**params, "method": ENSEMBLE, "members": members}


def ensemble_members(model_kwargs: dict[str, Any] | None) -> dict[str, dict[str, Any] | None]:
    """Member name -> its ``model_kwargs``, for ``method="ensemble"``; checked as :func:`_learn_ensemble` checks them.

    ``model_kwargs`` may hold ``"members"`` (default :data:`ENSEMBLE_MEMBERS`) and, per member name, that member's
    ``model_kwargs``.
    """
    model_kwargs = dict(model_kwargs or {})
    members = tuple(model_kwargs.pop("members", ENSEMBLE_MEMBERS))
    known = [name for name in METHODS if name != ENSEMBLE]
    if len(members) < 2 or not set(members) <= set(known):
        raise ValueError(
            f"An ensemble needs at least two classifiers among {preview(known, 20)}; got "
            f"`model_kwargs={{'members': {list(members)!r}}}`."
        )
    unknown = sorted(set(model_kwargs) - set(members))
    if unknown:
        raise ValueError(
            f"`model_kwargs` of an ensemble holds 'members' and per-member arguments keyed by member name; "
            f"{preview(unknown)} is none of them. Accepted names: {preview(['members', *members])}."
        )
    return {member: model_kwargs.get(member) for member in members}


def _learn_transfer(cells: AnnData, reference: AnnData, task: ResponseTask, method: str) -> tuple[np.ndarray, dict]:
    """Train a bulk-to-single-cell model on ``reference`` and the unlabelled cells, then score the cells."""
    from sctl.models import ATSDPNet, PathwayTransfer

    cls = PathwayTransfer if method == "pathway_transfer" else ATSDPNet
    model_kwargs = {"seed": task.seed, **(task.model_kwargs or {})}
    train_kwargs = {"seed": task.seed, **(task.train_kwargs or {})}
    data_kwargs = {**task.data_kwargs("bulk_layer"), **model_kwargs.pop("data_kwargs", {})}
    model = cls.from_reference(
        reference, cells, task.drug, data_kwargs=data_kwargs, train_kwargs=train_kwargs, **model_kwargs
    )
    logger.info("predict_response: %s on %d shared genes", method, model.adata.n_vars)
    proba = check_probabilities(model.predict(cells, layer=task.layers[0]), cells.n_obs, method)
    transfer = model.adata.uns["sctl_transfer"]
    counts = transfer["counts"]
    counts = (counts.get("bulk_sensitive", 0), counts.get("bulk_resistant", 0))
    params = task.params(method, model.adata.n_vars, counts, transfer["params"]["standardization"])
    params["model_kwargs"] = {k: v for k, v in model_kwargs.items() if isinstance(v, int | float | str | bool)}
    return proba, params


def _learn_multidrug(cells: AnnData, reference: AnnData, task: ResponseTask, method: str) -> tuple[np.ndarray, dict]:
    proba, params = screen_multidrug(cells, reference, task, [task.drug])
    return proba.iloc[:, 0].to_numpy(), params


def screen_multidrug(
    cells: AnnData, reference: AnnData, task: ResponseTask, drugs: list[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train one :class:`~sctl.models.MultiDrugTransfer` on every drug of the table; the probabilities of ``drugs``."""
    model = train_multidrug(cells, reference, task, drugs)
    proba = pd.DataFrame({drug: model.predict(cells, drug=drug, layer=task.layers[0]) for drug in drugs})
    for drug in drugs:
        check_probabilities(proba[drug].to_numpy(), cells.n_obs, MULTIDRUG)
    counts = _label_counts_of(reference, task)
    standardized = standardization(True if task.standardize_rows is None else task.standardize_rows)
    params = task.params(MULTIDRUG, model.adata.n_vars, counts, standardized)
    params["n_drugs_modelled"] = len(model.drugs)
    return proba, params


def train_multidrug(cells: AnnData, reference: AnnData, task: ResponseTask, drugs: list[str]) -> Any:
    """A :class:`~sctl.models.MultiDrugTransfer` trained on the reference's panel of drugs (with ``drugs``)."""
    from sctl.models import MultiDrugTransfer

    data_kwargs = task.data_kwargs("reference_layer")
    key = data_kwargs.pop("key")  # a parameter of its own in MultiDrugTransfer.from_reference
    model_kwargs = dict(task.model_kwargs or {})
    _accepted(MultiDrugTransfer, {k: v for k, v in model_kwargs.items() if k != "data_kwargs"}, MULTIDRUG)
    modelled = _panel(reference, task.key)
    panel = None if set(drugs) <= set(modelled) else sorted({*modelled, *drugs})
    return MultiDrugTransfer.from_reference(
        reference,
        cells,
        panel,
        key=key,
        data_kwargs={**data_kwargs, **model_kwargs.pop("data_kwargs", {})},
        train_kwargs={"seed": task.seed, **(task.train_kwargs or {})},
        **model_kwargs,
    )


def _panel(reference: AnnData, key: str) -> list[str]:
    """The drugs :class:`~sctl.models.MultiDrugTransfer` models by default (tested on enough lines)."""
    from sctl.models.multidrug._data import MIN_LINES

    table = reference.obsm[key]
    return [str(drug) for drug in table.columns[table.notna().sum() >= MIN_LINES]]


def _label_counts_of(reference: AnnData, task: ResponseTask) -> tuple[int, int]:
    labels = _labels(reference, task.drug, task)
    return int((labels == SENSITIVE).sum()), int((labels == RESISTANT).sum())


def check_probabilities(proba: np.ndarray, n_obs: int, source: str) -> np.ndarray:
    """``proba`` as a float array of ``n_obs`` finite values in [0, 1], or an error naming ``source``."""
    proba = np.asarray(proba, dtype=np.float64).reshape(-1)
    if proba.shape != (n_obs,):
        raise ValueError(f"{source} returned {proba.size} probabilities for {n_obs} observations.")
    if not np.all(np.isfinite(proba)) or proba.min() < 0 or proba.max() > 1:
        raise ValueError(f"{source} returned values outside [0, 1] or non-finite values; expected probabilities.")
    return proba


#: name -> fitter of every method of :func:`sctl.tl.predict_response`
class WithBaselines(Mapping):
    """A registry whose classifying baselines are read from :data:`~sctl.models.baselines.BASELINES` at each look-up.

    A baseline a user adds to ``BASELINES`` (tutorial 04) is then a method too, without registering it twice.
    """

    def __init__(self, fixed: dict[str, Any], baseline: Callable[[str], Any]) -> None:
        self.fixed, self.baseline = fixed, baseline

    def _names(self) -> list[str]:
        return [*self.fixed, *(name for name in BASELINES if name != "ridge" and name not in self.fixed)]

    def __getitem__(self, name: str) -> Any:
        if name in self.fixed:
            return self.fixed[name]
        if name in BASELINES and name != "ridge":
            return self.baseline(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


METHODS: Mapping[str, Fitter] = WithBaselines(
    {
        DECOMPOSED: _learn_decomposed,
        ENSEMBLE: _learn_ensemble,
        MULTIDRUG: _learn_multidrug,
        **dict.fromkeys(TRANSFER_METHODS, _learn_transfer),
    },
    lambda name: _learn_baseline,
)
