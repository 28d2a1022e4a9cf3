"""Analyses of a CSG²A model: its gene-gene attention maps and zero-shot perturbation distances.

Both read the network as :cite:t:`bang2025csg2a` do: the attention map of a chemical condition
averaged over basal profiles (appendix A.6), and the Euclidean distance between each basal profile and its predicted
perturbed profile (appendix C.2). :class:`~sctl.models.CSG2A` has both; :class:`~sctl.models.CSG2AIC50` the maps, read
through its fine-tuned pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata, preview
from sctl.models.csg2a import _data
from sctl.models.csg2a._drugs import DrugCatalogue, DrugNames
from sctl.models.csg2a._module import CSG2AModule, IC50Head

STAGES = ("pretrained", "finetuned")


class CSG2AAnalysisMixin:
    """Drug look-up and :meth:`get_attention`, shared by :class:`~sctl.models.CSG2A` and its fine-tuned model.

    A model using it has ``var_names_``, a :class:`~sctl.models.csg2a._drugs.DrugCatalogue` ``_drugs``, the
    pretraining setup's ``_basal_layer``, the network ``_network`` and, when fine-tuned, a ``_finetuned_head``, the
    fine-tuning ``dose`` and ``time`` in ``init_params_`` and the bulk ``layer`` in its setup.
    """

    var_names_: pd.Index
    init_params_: dict[str, Any]
    registry_: dict[str, Any]
    _drugs: DrugCatalogue

    @property
    def _setup(self) -> dict[str, Any]:
        """The arguments of ``setup_anndata``, as registered (resolved: e.g. the SMILES mapping, the embeddings)."""
        return dict(self.registry_["setup_args"])

    @property
    def _network(self) -> CSG2AModule:
        raise NotImplementedError

    @property
    def _basal_layer(self) -> str | None:
        raise NotImplementedError

    @property
    def drug_smiles_(self) -> dict[str, str]:
        """Drug name -> SMILES of the drugs the model knows (the setup's; a fine-tuned model's training drugs too).

        A drug embedded by name (``drug_features``) maps to its own name. A copy, read by :func:`sctl.tl.drug_smiles`.
        """
        return {**self._drugs.smiles, **{name: name for name in self._embeddings() or {}}}

    def _embeddings(self, extra: Mapping[str, Any] | pd.DataFrame | None = None) -> dict[str, list[float]] | None:
        """The drug embeddings known to the model and ``extra``; ``None`` for a model of RDKit features."""
        return self._drugs.with_features(extra)

    def _drug_smiles(
        self, adata: AnnData, drugs: DrugNames, embeddings: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """Drug name -> SMILES (or embedding name) of the requested drugs; read by :mod:`sctl.tl` and :mod:`sctl.pl`."""
        return self._drugs.lookup(adata, drugs, self._embeddings() if embeddings is None else embeddings)

    def _to_z(self, values: torch.Tensor) -> torch.Tensor:
        """Robust z-scores with the pretraining profiles' stored median and MAD."""
        return (values - self._network.input_center) / self._network.input_scale

    def _basal_matrix(self, adata_or_basal: AnnData | pd.Series | np.ndarray, layer: str | None) -> np.ndarray:
        """Basal profiles in the model's gene order, from an AnnData, a Series indexed by gene, or an array.

        An AnnData's values come from ``layer``, else the setup's basal layer when present, else ``X``.
        """
        if isinstance(adata_or_basal, AnnData):
            if layer is None and self._basal_layer in adata_or_basal.layers:
                layer = self._basal_layer
            return _data.aligned(adata_or_basal, layer, self.var_names_)
        if isinstance(adata_or_basal, pd.Series):
            missing = self.var_names_.difference(adata_or_basal.index)
            if len(missing):
                raise ValueError(
                    f"The basal profile lacks {len(missing)} of the model's genes (e.g. {preview(missing, 5)})."
                )
            return adata_or_basal.reindex(self.var_names_).to_numpy(np.float32)[None, :]
        values = np.atleast_2d(np.asarray(adata_or_basal, dtype=np.float32))
        if values.shape[1] != len(self.var_names_):
            raise ValueError(
                f"A basal array needs one value per model gene ({len(self.var_names_)}), got {values.shape[1]}."
            )
        return values

    @property
    def _finetuned_head(self) -> IC50Head:
        """The fine-tuned head; a pretrained model has none."""
        raise RuntimeError(
            "`stage='finetuned'` reads a fine-tuned model: build one with "
            "`sctl.models.CSG2AIC50.from_pretrained(model, bulk).train()` and call its `get_attention`."
        )

    def _stage_input(
        self, adata_or_basal: AnnData | pd.Series | np.ndarray, layer: str | None, stage: str
    ) -> torch.Tensor:
        """The network's input at ``stage``: the pretraining z-scores, or the fine-tuned pipeline's scaling."""
        if stage == "pretrained":
            return self._to_z(torch.as_tensor(self._basal_matrix(adata_or_basal, layer)))
        head = self._finetuned_head
        if isinstance(adata_or_basal, AnnData):
            layer = self._setup["layer"] if layer is None else layer
            values = _data.aligned(adata_or_basal, layer, self.var_names_)
        else:
            values = self._basal_matrix(adata_or_basal, None)
        return head.scale(head.standardize(torch.as_tensor(values)))

    def _stage_condition(self, stage: str, dose: float | None, time: float | None) -> tuple[float | None, ...]:
        """Dose and time of the maps at ``stage``: by default the fine-tuning condition at the fine-tuned stage."""
        if stage == "finetuned":  # reached by fine-tuned models only (see `_stage_input`)
            dose = self.init_params_["dose"] if dose is None else dose
            time = self.init_params_["time"] if time is None else time
        return dose, time

    def get_attention(
        self,
        adata_or_basal: AnnData | pd.Series | np.ndarray,
        *,
        smiles: str | None = None,
        drug: str | None = None,
        dose: float | None = None,
        time: float | None = None,
        layer: str | None = None,
        stage: str = "pretrained",
        include_prior: bool = True,
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
        batch_size: int = 8,
    ) -> pd.DataFrame:
        """The gene-gene weights ``Q Q^T / sqrt(h) + A_PPI`` of one chemical condition :cite:p:`bang2025csg2a`.

        For an AnnData the maps of its profiles are averaged (as the paper averages the maps of a drug's test
        samples, appendix A.6). Costs ``O(N_gene^2 h)`` per profile.

        Parameters
        ----------
        adata_or_basal
            Basal profiles: an AnnData (values from ``layer``) or one profile (Series indexed by gene, or an
            array in the model's gene order).
        smiles, drug
            The drug: its SMILES, or its name (SMILES or embedding known to the model).
        dose, time
            Dose (µM) and time (hours); required with ``stage="pretrained"``, the fine-tuning condition (10 µM,
            72 h in the paper) by default with ``stage="finetuned"``.
        layer
            Layer of the AnnData (``None``: with ``"pretrained"`` the setup's basal layer when present, else
            ``X``; with ``"finetuned"`` the fine-tuning layer).
        stage
            ``"pretrained"``: the profiles are in the units of the pretraining profiles and get their stored
            robust z-scoring. ``"finetuned"`` (a :class:`~sctl.models.CSG2AIC50` only): they pass through the
            fine-tuned pipeline (the fine-tuning lines' robust z-scoring, then the learnt scaling layer), as the
            paper reads the maps of GDSC samples.
        include_prior
            Add ``A_PPI``; ``False`` gives the drug- and profile-dependent scores ``Q Q^T / sqrt(h)`` alone.
        drug_features
            More drug embeddings, for a model set up with ``drug_features``.
        batch_size
            Profiles per pass (memory is ``batch_size * N_gene^2`` floats).

        Returns
        -------
        DataFrame genes x genes; entry ``(i, j)`` is the weight of gene ``j`` in the first-layer output of ``i``.

        Examples
        --------
        >>> model.get_attention(plate[:5], drug="trametinib", dose=10.0, time=24.0)  # doctest: +SKIP
        >>> ic50_model.get_attention(bulk[:5], drug="Fulvestrant", stage="finetuned")  # doctest: +SKIP
        """
        if stage not in STAGES:
            raise ValueError(f"`stage` must be one of {STAGES}, got {stage!r}.")
        if (smiles is None) == (drug is None):
            raise ValueError("Name the drug: pass `smiles=` (its SMILES) or `drug=` (its name), one of them.")
        embeddings = self._embeddings(drug_features)
        basal = self._stage_input(adata_or_basal, layer, stage)  # a pretrained model refuses `stage="finetuned"`
        dose, time = self._stage_condition(stage, dose, time)
        if dose is None or time is None:
            raise ValueError("`get_attention` needs the condition: pass both `dose=` (µM) and `time=` (hours).")
        source = adata_or_basal if isinstance(adata_or_basal, AnnData) else AnnData()
        table = {"drug": smiles} if drug is None else self._drug_smiles(source, [drug], embeddings)
        features = self._drugs.featurize(table, embeddings)
        total = torch.zeros(len(self.var_names_), len(self.var_names_))
        network = self._network
        with torch.no_grad():
            for start in range(0, len(basal), batch_size):
                chunk = basal[start : start + batch_size]
                n = len(chunk)
                condition = network.encoder(
                    features.expand(n, -1), torch.full((n,), float(dose)), torch.full((n,), float(time))
                )
                total += network.attention.weights(chunk, condition, include_prior=include_prior).sum(0)
        return pd.DataFrame((total / len(basal)).numpy(), index=self.var_names_, columns=self.var_names_)


class PerturbationDistanceMixin(CSG2AAnalysisMixin):
    """:meth:`perturbation_distance`, the zero-shot test of a pretrained :class:`~sctl.models.CSG2A`."""

    @doc_params()
    def perturbation_distance(
        self,
        adata: AnnData,
        drugs: Sequence[str] | Mapping[str, str],
        *,
        dose: float | None = None,
        time: float | None = None,
        layer: str | None = None,
        standardize: bool = True,
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Zero-shot sensitivity: Euclidean distance between each basal profile and its predicted perturbed profile.

        The paper's zero-shot analysis (:cite:t:`bang2025csg2a`, appendix C.2): with the pretrained network only,
        sensitive lines move further from their basal profile than resistant ones.

        Parameters
        ----------
        adata
            Cell lines (or samples) x genes with all the model's genes.
        drugs
            Names (SMILES from the setup or ``adata.uns["sctl_drugs"]``) or a mapping name -> SMILES.
        dose, time
            The condition (µM, hours); both required (the paper uses 10 µM and 72 h).
        {layer}
        standardize
            Robust z-score the profiles over the observations of ``adata`` first (as the paper does for GDSC);
            ``False``: the profiles are in the units of the pretraining data and get its stored scaling.
        drug_features
            More drug embeddings, for a model set up with ``drug_features``.

        Returns
        -------
        DataFrame, observations x drugs, distances in the standardised space.

        Examples
        --------
        >>> model.perturbation_distance(bulk, ["Trametinib"], dose=10.0, time=72.0)  # doctest: +SKIP
        """
        if dose is None or time is None:
            raise ValueError("`perturbation_distance` needs the condition: pass both `dose=` (µM) and `time=` (hours).")
        check_anndata(adata)
        _data.condition_value(adata[:1], None, dose, "dose", "µM")
        _data.condition_value(adata[:1], None, time, "time", "hours")
        embeddings = self._embeddings(drug_features)
        smiles = self._drug_smiles(adata, drugs, embeddings)
        values = _data.aligned(adata, layer, self.var_names_)
        if standardize:
            center, scale = _data.robust_fit(values)
            basal = torch.as_tensor((values - center) / scale)
        else:
            basal = self._to_z(torch.as_tensor(values))
        features = self._drugs.featurize(smiles, embeddings)
        n = len(basal)
        out = np.zeros((n, len(smiles)))
        with torch.no_grad():
            for j in range(len(smiles)):
                pred = self._network(
                    basal, features[j].expand(n, -1), torch.full((n,), float(dose)), torch.full((n,), float(time))
                )
                out[:, j] = torch.linalg.vector_norm(pred["predicted"] - basal, dim=1).numpy()
        return pd.DataFrame(out, index=adata.obs_names, columns=pd.Index(list(smiles), name="drug"))
