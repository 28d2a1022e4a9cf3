"""Rank drugs by the predicted shift of the post-treatment states (GRIP-Lung's drug repositioning)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import RESISTANCE_INDEX_KEY, STATE_CALL_KEY, STATE_CALLS, STATES_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata, get_matrix, preview, to_dense
from sctl.models._perturbation_ensemble import predicted_changes
from sctl.tl._perturbation import PerturbationModel
from sctl.tl._score_states import GeneSets, _zscore, score_states

RANK_DRUGS_KEY = "sctl_rank_drugs"
BASAL = "basal"


@doc_params()
def rank_drugs(
    adata: AnnData,
    model: PerturbationModel,
    drugs: Sequence[str] | None = None,
    *,
    dose: float | Mapping[str, float] | None = None,
    time: float | None = None,
    method: str = "ssgsea",
    genesets: GeneSets | None = None,
    basal_layer: str = "sctl_basal",
    predict_kwargs: Mapping[str, Any] | None = None,
    score_kwargs: Mapping[str, Any] | None = None,
    key_added: str = RANK_DRUGS_KEY,
) -> pd.DataFrame:
    """Rank drugs by how far their predicted treatment moves each sample towards an effective state.

    GRIP-Lung's drug repositioning: for each drug the model predicts every sample's post-treatment profile from
    its basal profile; the basal and all predicted profiles are scored together on the six post-treatment states
    (:func:`sctl.tl.score_states`); each drug is judged by the shift of the resistance index
    ``ΔRI = RI_treated - RI_basal`` of every sample (negative: towards programmed cell death, senescence and
    arrest, away from resistance, immune escape and progression) and ranked by the mean ``ΔRI`` (most negative
    first).

    All profiles are scored in one call because :func:`sctl.tl.score_states` z-scores each state across the
    profiles it is given: scoring the basal and each drug's profiles separately would centre every set at zero
    and every mean shift would vanish. ``RI`` and the state shifts are therefore in units of standard deviations
    of that joint pool (basal plus every drug ranked): adding or removing drugs changes them slightly, not the
    order of drugs with clear effects.

    Parameters
    ----------
    adata
        Samples x genes with each sample's untreated profile in ``adata.layers[basal_layer]`` (for untreated
        samples such as patients, ``adata.layers["sctl_basal"] = adata.X.copy()``) and the ``adata.obs`` columns
        the model reads (e.g. the cell line of GRIP, or pass ``predict_kwargs={"cell_line": ...}``, for instance
        the lines of :func:`sctl.tl.map_to_reference`).
    model
        A trained perturbation model (:class:`sctl.models.GRIP`, :class:`sctl.models.SeqPerturb` or any
        :class:`sctl.tl.PerturbationModel`).
    drugs
        Drugs to rank; default: every drug of ``model.drugs``.
    dose
        One dose for every drug, a mapping drug -> dose, or ``None`` to keep ``adata.obs``'s doses.
    time
        Treatment time, for models whose ``predict`` takes ``time=``.
    method
        Scoring method of :func:`sctl.tl.score_states` (``"ssgsea"`` as in the paper).
    genesets
        State marker sets (default: :func:`sctl.datasets.state_markers`).
    basal_layer
        Layer with the basal profiles.
    predict_kwargs
        More keyword arguments for ``model.predict``, e.g. ``{"cell_line": "A549"}``.
    score_kwargs
        More keyword arguments for :func:`sctl.tl.score_states`, e.g. ``{"min_genes": 3}``.
    key_added
        The table goes to ``adata.uns[key_added]["ranking"]`` and the per-sample ``ΔRI`` (samples x drugs) to
        ``adata.obsm[key_added]``.

    Returns
    -------
    One row per drug, best first, indexed by drug, with columns ``rank``; ``delta_ri_mean``, ``delta_ri_std``
    and ``delta_ri_median`` over samples; ``frac_effective`` (fraction of samples whose treated profile is
    called ``"effective"``, ``RI <= 0``); ``frac_improved`` (fraction with ``ΔRI < 0``); ``ri_basal_mean`` and
    ``ri_treated_mean``; ``n_samples``; and ``delta_<state>``, the mean shift of each state's z-score.
    Also stored with the parameters in ``adata.uns[key_added]``.

    Examples
    --------
    {plate_with_basal}
    >>> treated = plate[~plate.obs["is_control"]].copy()
    >>> sctl.models.GRIP.setup_anndata(treated, dose_key="dose")
    >>> model = sctl.models.GRIP(treated)
    >>> model.train(max_epochs=20)  # doctest: +SKIP
    >>> basal = plate[plate.obs["is_control"]].copy()
    >>> sctl.tl.rank_drugs(basal, model, ["trametinib", "vemurafenib"], dose=1.11,
    ...                    score_kwargs={"min_genes": 4})  # doctest: +SKIP
    """
    check_anndata(adata)
    drugs = _drug_list(model, drugs)
    doses = _dose_map(dose, drugs)
    basal = _basal_frame(adata, basal_layer)
    kwargs = _predict_kwargs(model, time, predict_kwargs)
    treated = {}
    for drug in drugs:
        genes, profile, _, _ = predicted_changes(
            model, adata, {**kwargs, "drug": drug, "dose": doses[drug]}, basal_layer
        )
        treated[drug] = pd.DataFrame(profile, index=adata.obs_names, columns=genes)
    genes = treated[drugs[0]].columns
    pool = _pool(basal[genes], treated)
    score_states(pool, method=method, genesets=genesets, **dict(score_kwargs or {}))
    ranking, delta_ri = _summarise(pool, drugs, adata.obs_names)

    adata.obsm[key_added] = delta_ri
    adata.uns[key_added] = {
        "params": {
            "model": type(model).__name__,
            "drugs": list(drugs),
            "dose": {d: (None if v is None else float(v)) for d, v in doses.items()},
            "time": time,
            "method": method,
            "basal_layer": basal_layer,
            "n_genes": len(genes),
            "effective": pool.uns[STATES_KEY]["params"]["effective"],
            "ineffective": pool.uns[STATES_KEY]["params"]["ineffective"],
        },
        "ranking": ranking,
    }
    return ranking


def _drug_list(model: PerturbationModel, drugs: Sequence[str] | None) -> list[str]:
    if drugs is None:
        if not hasattr(model, "drugs"):
            raise ValueError(f"{type(model).__name__} does not list its drugs: pass `drugs=[...]`.")
        drugs = list(model.drugs)
    if isinstance(drugs, str):
        drugs = [drugs]
    drugs = [str(d) for d in drugs]
    if not drugs:
        raise ValueError("`drugs` is empty: name at least one drug to rank.")
    if len(set(drugs)) < len(drugs):
        raise ValueError(f"`drugs` lists a drug twice: {preview(pd.Index(drugs)[pd.Index(drugs).duplicated()])}.")
    return drugs


def _dose_map(dose: float | Mapping[str, float] | None, drugs: list[str]) -> dict[str, float | None]:
    if isinstance(dose, Mapping):
        missing = [d for d in drugs if d not in dose]
        if missing:
            raise KeyError(f"`dose` has no dose for {preview(missing)}; give one per drug ranked.")
        return {d: dose[d] for d in drugs}
    if dose is not None and np.ndim(dose) != 0:
        raise TypeError("`dose` must be one number or a mapping drug -> dose, not one dose per sample.")
    return dict.fromkeys(drugs, dose)


def _basal_frame(adata: AnnData, basal_layer: str) -> pd.DataFrame:
    if basal_layer not in adata.layers:
        raise KeyError(
            f"No basal profiles in `adata.layers[{basal_layer!r}]`. For treated profiles run "
            "`sctl.pp.match_controls(adata, control='DMSO')`; for untreated samples (e.g. patients) set "
            f"`adata.layers[{basal_layer!r}] = adata.X.copy()`."
        )
    if adata.n_obs < 1:
        raise ValueError("`adata` has no samples.")
    values = to_dense(get_matrix(adata, basal_layer), np.float64)
    return pd.DataFrame(values, index=adata.obs_names, columns=adata.var_names)


def _predict_kwargs(model: PerturbationModel, time: float | None, extra: Mapping[str, Any] | None) -> dict:
    if not hasattr(model, "predict"):
        raise TypeError(f"`model` must have a `predict(adata, drug=..., dose=...)` method, got {type(model).__name__}.")
    kwargs = dict(extra or {})
    clash = {"drug", "dose"} & set(kwargs)
    if clash:
        raise ValueError(f"Pass {preview(sorted(clash))} as arguments of rank_drugs, not in `predict_kwargs`.")
    if time is not None:
        if "time" not in inspect.signature(model.predict).parameters:
            raise ValueError(f"{type(model).__name__} does not model treatment time; leave `time=None`.")
        kwargs["time"] = time
    return kwargs


def _pool(basal: pd.DataFrame, treated: dict[str, pd.DataFrame]) -> AnnData:
    """One AnnData with the basal profiles and every drug's predicted profiles, labelled by ``obs["condition"]``."""
    frames = [basal, *treated.values()]
    values = np.vstack([f.to_numpy(dtype=np.float64) for f in frames])
    if not np.isfinite(values).all():
        raise ValueError(
            "The basal or predicted profiles hold NaN or infinite values on the model's genes; "
            "check the basal layer and that the model was trained on these genes."
        )
    conditions = np.repeat([BASAL, *treated], len(basal))
    obs = pd.DataFrame(
        {"condition": conditions, "sample": np.tile(basal.index.astype(str), len(frames))},
        index=[f"{c}|{s}" for c, s in zip(conditions, np.tile(np.arange(len(basal)), len(frames)), strict=True)],
    )
    return AnnData(values, obs=obs, var=pd.DataFrame(index=basal.columns.astype(str)))


def _summarise(pool: AnnData, drugs: list[str], obs_names: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ranking table and per-sample ΔRI (samples x drugs) from the scored pool."""
    if RESISTANCE_INDEX_KEY not in pool.obs:
        raise ValueError(
            "The gene sets give no resistance index (no effective or no ineffective state): pass "
            "`score_kwargs={'effective': [...], 'ineffective': [...]}` or sets with a `category` column."
        )
    condition = pool.obs["condition"].to_numpy()
    ri = pool.obs[RESISTANCE_INDEX_KEY].to_numpy()
    calls = pool.obs[STATE_CALL_KEY].to_numpy() == STATE_CALLS[0]
    z = _zscore(pool.obsm[STATES_KEY])
    basal = condition == BASAL
    rows, delta_ri = {}, {}
    for drug in drugs:
        treated = condition == drug
        shift = ri[treated] - ri[basal]
        delta_ri[drug] = shift
        rows[drug] = {
            "delta_ri_mean": shift.mean(),
            "delta_ri_std": shift.std(ddof=1) if len(shift) > 1 else 0.0,
            "delta_ri_median": float(np.median(shift)),
            "frac_effective": calls[treated].mean(),
            "frac_improved": (shift < 0).mean(),
            "ri_basal_mean": ri[basal].mean(),
            "ri_treated_mean": ri[treated].mean(),
            "n_samples": int(treated.sum()),
            **{f"delta_{s}": (z[s].to_numpy()[treated] - z[s].to_numpy()[basal]).mean() for s in z.columns},
        }
    ranking = pd.DataFrame.from_dict(rows, orient="index").sort_values("delta_ri_mean", kind="stable")
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    ranking.index.name = "drug"
    return ranking, pd.DataFrame(delta_ri, index=obs_names.copy())
