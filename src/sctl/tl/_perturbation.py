"""Predict drug-induced expression changes into an AnnData, with any model that follows :class:`PerturbationModel`."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, preview
from sctl.models._perturbation_ensemble import predicted_changes

PREDICTED_KEY = "sctl_predicted"
PREDICTED_DELTA_KEY = "sctl_predicted_delta"
UNS_KEY = "sctl_predict_perturbation"


@runtime_checkable
class PerturbationModel(Protocol):
    """What :func:`predict_perturbation` needs of a trained model: ``predict(adata, *, drug, dose)`` and ``predicts``.

    ``predict`` receives the profiles and the ``drug`` and ``dose`` to apply (``None``: each profile's own, from
    ``adata.obs``; otherwise one value for every profile or one per profile) and returns a
    :class:`~pandas.DataFrame` of observations x genes, one row per observation of ``adata`` in its order, with
    gene names of ``adata`` as columns (a subset is fine: the genes left out are NaN in the results). The
    attribute ``predicts`` says what the rows are: ``"profile"`` (treated expression; the default when the
    attribute is missing) or ``"delta"`` (the change from the basal profile of :func:`sctl.pp.match_controls`);
    :func:`predict_perturbation` derives the other from the basal layer. A model that models treatment time adds
    a ``time`` keyword to ``predict``. No base class is needed;
    :class:`sctl.models.GRIP`, :class:`sctl.models.SeqPerturb`, :class:`sctl.models.PerturbationEnsemble` and the
    perturbation baselines follow it. To cross-validate such a model beside the baselines, pass
    ``models={"mine": factory}`` to :func:`evaluate_perturbation`, ``factory(train_adata)`` returning it trained.

    Examples
    --------
    A model that predicts each drug's mean change over the training profiles, whatever the dose:

    >>> import pandas as pd
    >>> import sctl
    >>> class DrugMeanChange:
    ...     predicts = "delta"
    ...
    ...     def fit(self, adata):
    ...         delta = adata.to_df("sctl_delta")
    ...         self.means = delta.groupby(adata.obs["drug"].to_numpy()).mean()
    ...         return self
    ...
    ...     def predict(self, adata, *, drug=None, dose=None):
    ...         drugs = adata.obs["drug"] if drug is None else pd.Series(drug, index=adata.obs_names)
    ...         return self.means.reindex(drugs.to_numpy()).set_axis(adata.obs_names)
    >>> plate = sctl.datasets.lincs()
    >>> sctl.pp.match_controls(plate, control="DMSO")
    >>> sctl.pp.log_fold_change(plate)
    >>> treated = plate[~plate.obs["is_control"]].copy()
    >>> model = DrugMeanChange().fit(treated)
    >>> sctl.tl.predict_perturbation(treated, model, "vemurafenib")
    >>> treated.layers["sctl_predicted_delta"].shape == treated.shape
    True
    """

    def predict(self, adata: AnnData, *, drug: Any = None, dose: Any = None) -> pd.DataFrame:
        """Predicted profiles or changes, observations x genes (gene names as columns)."""
        ...


@doc_params()
def predict_perturbation(
    adata: AnnData,
    model: PerturbationModel,
    drug: str | Sequence[str] | None = None,
    *,
    dose: float | Sequence[float] | None = None,
    time: float | None = None,
    basal_layer: str = "sctl_basal",
    key_added: str = PREDICTED_KEY,
    delta_key_added: str = PREDICTED_DELTA_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Predict each profile's treated expression and change under a drug, into ``adata.layers``.

    Works with :class:`sctl.models.GRIP` (predicts profiles from the basal layer), :class:`sctl.models.SeqPerturb`
    and the naive baselines of :func:`sctl.tl.evaluate_perturbation` (predict changes), or any model with
    ``predict(adata, drug=..., dose=...)`` returning observations x genes and ``predicts`` set to ``"profile"``
    or ``"delta"``.

    Parameters
    ----------
    adata
        Profiles x genes with the basal profiles of :func:`sctl.pp.match_controls` (needed to turn a predicted
        change into a profile and back) and the genes of the model.
    model
        A trained perturbation model.
    drug
        Drug to apply to every profile (or one per profile); ``None`` keeps each profile's own drug.
    dose
        Dose to apply (one value or one per profile); ``None`` keeps ``adata.obs``'s doses.
    time
        Treatment time; only for models whose ``predict`` takes ``time=`` (GRIP and SeqPerturb do not).
    basal_layer
        Layer with the basal profiles.
    key_added
        Layer for the predicted profiles.
    delta_key_added
        Layer for the predicted changes. Not ``"sctl_delta"`` by default so that the observed changes of
        :func:`sctl.pp.log_fold_change` are kept for comparison.
    {copy}

    {returns_copy}
    Sets ``adata.layers[key_added]`` (when the basal layer is there or the model predicts profiles),
    ``adata.layers[delta_key_added]`` and ``adata.uns["sctl_predict_perturbation"]["params"]``. Genes the model
    does not know are NaN in both layers.

    Raises
    ------
    ValueError
        When the basal layer holds NaN or infinite values (naming the layer, the number of profiles and genes
        affected and the first of them): impute or drop them first.

    Examples
    --------
    {plate_with_basal}
    >>> sctl.models.GRIP.setup_anndata(plate, dose_key="dose")
    >>> model = sctl.models.GRIP(plate)
    >>> model.train(max_epochs=1)  # doctest: +SKIP
    >>> sctl.tl.predict_perturbation(plate, model, "vemurafenib", dose=1.0)  # doctest: +SKIP
    """
    check_anndata(adata)
    if not hasattr(model, "predict"):
        raise TypeError(f"`model` must have a `predict(adata, drug=..., dose=...)` method, got {type(model).__name__}.")
    kwargs: dict[str, Any] = {"drug": drug, "dose": dose}
    if time is not None:
        if "time" not in inspect.signature(model.predict).parameters:
            raise ValueError(f"{type(model).__name__} does not model treatment time; leave `time=None`.")
        kwargs["time"] = time
    if basal_layer in adata.layers:  # NaN there would become a whole predicted row of NaN, silently
        check_finite(
            adata.layers[basal_layer],
            f"`adata.layers[{basal_layer!r}]` (the basal profiles)",
            obs_names=adata.obs_names,
            var_names=adata.var_names,
        )
    genes, profile, delta, kind = predicted_changes(model, adata, kwargs, basal_layer)
    adata = adata.copy() if copy else adata
    adata.layers[delta_key_added] = _full_width(adata, genes, delta)
    if profile is not None:
        adata.layers[key_added] = _full_width(adata, genes, profile)
    adata.uns[UNS_KEY] = {
        "params": {
            "model": type(model).__name__,
            "preset": getattr(model, "preset", None),
            "drug": drug if drug is None or isinstance(drug, str) else list(map(str, drug)),
            "dose": dose if dose is None or np.ndim(dose) == 0 else list(map(float, dose)),
            "time": time,
            "basal_layer": basal_layer,
            "key_added": key_added if profile is not None else None,
            "delta_key_added": delta_key_added,
            "predicts": kind,
        }
    }
    return adata if copy else None


def _full_width(adata: AnnData, genes: pd.Index, values: np.ndarray) -> np.ndarray:
    """``values`` (profiles x ``genes``) placed in ``adata``'s gene order, NaN for the genes the model lacks."""
    columns = adata.var_names.get_indexer(genes)
    if (columns < 0).any():
        raise ValueError(
            f"The model predicted {int((columns < 0).sum())} genes that `adata` lacks "
            f"({preview(genes[columns < 0])}); a model must predict genes of `adata.var_names`."
        )
    out = np.full((adata.n_obs, adata.n_vars), np.nan, dtype=np.float32)
    out[:, columns] = values
    return out
