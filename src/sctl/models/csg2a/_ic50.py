"""CSG²A fine-tuned on ln IC50: the second stage, its own model built from a pretrained :class:`CSG2A`."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.model.base import BaseModelClass

from sctl._docs import doc_params
from sctl._validate import check_anndata, get_matrix
from sctl.models._base import preset_arguments
from sctl.models.csg2a import _data
from sctl.models.csg2a._analysis import CSG2AAnalysisMixin
from sctl.models.csg2a._drugs import DrugCatalogue, clip_descriptors, drug_offsets
from sctl.models.csg2a._finetune import TrainingPairs, prepare
from sctl.models.csg2a._model import CSG2A, train_stage
from sctl.models.csg2a._module import CSG2AIC50Module, CSG2AModule, IC50Head, build_network
from sctl.models.csg2a._persistence import IC50Persistence
from sctl.models.csg2a._preset_tables import IC50_INIT_PRESETS, IC50_TRAIN_PRESETS, head_params, training_settings
from sctl.models.csg2a._training_plan import IC50Loss


class CSG2AIC50(CSG2AAnalysisMixin, IC50Persistence, BaseModelClass):
    """CSG²A fine-tuned on a cell-line response table (ln IC50), the pretrained network frozen.

    The transfer stage of CSG²A :cite:p:`bang2025csg2a` (section 3.2, appendix A.2), built from a pretrained
    :class:`~sctl.models.CSG2A` as scvi-tools builds SCANVI from SCVI (:meth:`from_pretrained`). A copy of the
    network is kept with its biases removed and its weights frozen; a learnable scaling ``(g0 - mu) / sigma``
    aligns the new basal profiles with the pretraining space, and a head regresses ln IC50 from the scaled basal
    profile, the predicted perturbed profile and the condition vector, at a fixed condition (10 µM, 72 h as in the
    paper). Basal profiles are first robust z-scored with the median and MAD of the training cell lines (stored).
    The pretrained model is left unchanged. With a drug ``offset`` (sctl) the head learns the response minus the
    drug's mean, and an unseen drug's mean is estimated from the training drugs most similar to it.

    :meth:`setup_anndata` registers the bulk expression and response table; :meth:`train` registers the training
    (cell line, drug) pairs as indices into them and runs a :class:`~scvi.train.TrainingPlan` with
    :class:`~scvi.train.TrainRunner`, as :meth:`CSG2A.train <sctl.models.CSG2A.train>` does.

    Parameters
    ----------
    adata
        Cell lines x genes (all the pretrained model's genes) with the response table, registered by
        :meth:`setup_anndata`.
    pretrained
        The pretrained :class:`~sctl.models.CSG2A`.
    drugs
        Drugs to learn: names (SMILES known to the model or in ``adata.uns["sctl_drugs"]["smiles"]``, or
        embeddings) or a mapping name -> SMILES. ``None``: the drugs of ``pairs``, or every drug of the table with
        a SMILES.
    pairs
        Training pairs, columns ``cell_line`` and ``drug`` (e.g. the training part of :func:`sctl.pp.split`);
        ``None``: every tested pair of ``drugs``.
    dose, time
        The fixed condition of the response assay (10 µM and 72 h in the paper).
    preset
        ``"sctl"`` or ``"paper"`` for the settings below left at ``None`` and those of :meth:`train`; ``None``:
        the pretrained model's preset.
    n_projection, n_head_hidden
        Sizes of the head: units of each projection, and of the regressor's hidden layer (or layers, a sequence).
    scaling
        ``"scalar"``: one ``mu`` and one ``sigma`` (the paper's two latent variables); ``"gene"``: one per gene.
    offset
        The prediction is the head's output plus the drug's mean ln IC50 over the training pairs; for an unseen drug
        ``"neighbours"``: the similarity-weighted mean of its ``n_neighbours`` most similar training drugs (Tanimoto
        of Morgan fingerprints; cosine of embeddings), shrunk toward the mean of all; ``"mean"``: the mean of all.
        ``"none"``: no offset, the head predicts the whole ln IC50 (the paper).
    n_neighbours
        Training drugs averaged for an unseen drug's offset (``offset="neighbours"``).
    shrinkage
        Weight of the mean of the training drugs in an unseen drug's offset, against the summed similarities
        (each in [0, 1]) of its neighbours: dissimilar drugs get about the overall mean.
    clip_features
        Clip the RDKit descriptors of every drug to their range over the training drugs, so that an unseen drug
        does not push the frozen condition encoder outside what it was fitted on (no effect on embeddings).
    drug_features
        More drug embeddings, for a pretrained model set up with ``drug_features`` (kept with this model).
    seed
        Seed of the head's initial weights and of training (``None``: the pretrained model's ``seed``).

    Examples
    --------
    >>> ic50 = CSG2AIC50.from_pretrained(model, bulk, drugs=["Trametinib"], pairs=train_pairs)  # doctest: +SKIP
    >>> ic50.train(max_epochs=30)  # doctest: +SKIP
    >>> ic50.predict(bulk, {"new drug": "CC(=O)NC1=CC=C(O)C=C1"})  # doctest: +SKIP
    """

    predicts = "ln_ic50"  # for :func:`sctl.tl.predict_ic50`

    def __init__(
        self,
        adata: AnnData,
        pretrained: CSG2A,
        *,
        drugs: Sequence[str] | Mapping[str, str] | None = None,
        pairs: pd.DataFrame | None = None,
        dose: float = 10.0,
        time: float = 72.0,
        preset: str | None = None,
        n_projection: int | None = None,
        n_head_hidden: int | Sequence[int] | None = None,
        scaling: str | None = None,
        offset: str | None = None,
        n_neighbours: int = 3,
        shrinkage: float = 1.0,
        clip_features: bool | None = None,
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(check_anndata(adata))
        if not isinstance(pretrained, CSG2A):
            raise TypeError(f"`pretrained` must be a pretrained sctl.models.CSG2A, got {type(pretrained).__name__}.")
        given = preset_arguments(IC50_INIT_PRESETS, locals())
        settings = head_params(
            pretrained.init_params_["preset"] if preset is None else preset, n_neighbours, shrinkage, **given
        )
        if not pretrained.is_trained_:
            warnings.warn("The CSG2A given is untrained: fine-tuning reads random weights.", UserWarning, stacklevel=2)
        seed = pretrained.init_params_["seed"] if seed is None else int(seed)
        self._record_init_params(locals(), **settings, dose=float(dose), time=float(time), seed=seed)
        init = self.init_params_
        known = (pretrained._drugs, pretrained.var_names_, {**init, **self._setup})
        data = prepare(adata, *known, drugs=drugs, pairs=pairs, drug_features=drug_features)
        network = copy.deepcopy(pretrained.module).requires_grad_(False)
        network.remove_biases()  # the paper's recipe (section 3.2)
        pretrained_params = {"init_params": pretrained.init_params_, "setup": pretrained._setup}
        self._build(pretrained.var_names_, pretrained_params, init, data.fitted, network)
        self.module.head.set_scalings(data.center, data.scale, data.target)
        self._training_pairs = data.pairs

    def _build(
        self,
        var_names: pd.Index,
        pretrained: dict[str, Any],
        init: dict[str, Any],
        fitted: dict[str, Any],
        network: CSG2AModule | None = None,
    ) -> None:
        """The network (``None``: rebuilt from the pretrained settings), a new head and the drug catalogue."""
        self.var_names_, self.pretrained_params_, self.init_params_, self.fitted_ = var_names, pretrained, init, fitted
        self.history_: dict[str, list[float]] = {}
        self.train_params_: dict[str, Any] | None = None
        self._training_pairs: TrainingPairs | None = None
        params, setup = pretrained["init_params"], pretrained["setup"]
        self._drugs = DrugCatalogue.from_setup(params["n_bits"], setup).extended(
            fitted["drugs"], fitted.get("drug_features")
        )
        if network is None:
            network = build_network(len(var_names), self._drugs.n_features, params)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init["seed"])
            head = IC50Head(
                len(var_names), init["n_projection"], init["n_head_hidden"], params["dropout"], init["scaling"]
            )
        self.module = CSG2AIC50Module(network, head).eval()
        self._model_summary_string = f"CSG2AIC50: {len(var_names)} genes, {len(fitted['drugs'])} drugs"

    def __repr__(self) -> str:
        init, stage = self.init_params_, "fine-tuned" if self.is_trained_ else "untrained"
        return (
            f"CSG2AIC50({len(self.var_names_)} genes, {len(self.fitted_['drugs'])} drugs, preset={init['preset']!r}, "
            f"offset={init['offset']!r}, {stage})"
        )

    @property
    def _network(self) -> CSG2AModule:
        return self.module.network

    @property
    def _basal_layer(self) -> str | None:
        return self.pretrained_params_["setup"]["basal_layer"]

    @property
    def _finetuned_head(self) -> IC50Head:
        return self.module.head

    @classmethod
    @doc_params()
    def setup_anndata(
        cls, adata: AnnData, *, response_key: str = "ln_ic50", layer: str | None = None, **kwargs: Any
    ) -> None:
        """Register the expression of cell lines (or other bulk samples) with an :class:`~scvi.data.AnnDataManager`.

        Their response table is read, and checked, when the model is built; :meth:`train` registers its pairs.

        Parameters
        ----------
        adata
            Cell lines x genes with the response table ``adata.obsm[response_key]`` (DataFrame, cell lines x
            drugs, NaN where untested).
        response_key
            Key of the response table, ``"ln_ic50"`` by default.
        layer
            Layer with the expression (``None``: ``X``), on any scale: it is robust z-scored.
        {register_kwargs}

        Examples
        --------
        >>> CSG2AIC50.setup_anndata(bulk, response_key="ln_ic50")  # doctest: +SKIP
        """
        get_matrix(check_anndata(adata), layer)
        cls.register_manager(_data.register_bulk(adata, {"response_key": response_key, "layer": layer}, **kwargs))

    @classmethod
    def from_pretrained(
        cls,
        pretrained: CSG2A,
        adata: AnnData,
        *,
        response_key: str = "ln_ic50",
        layer: str | None = None,
        **kwargs: Any,
    ) -> CSG2AIC50:
        """Set up ``adata`` (:meth:`setup_anndata`) and build the fine-tuned model of ``pretrained`` on it.

        Parameters
        ----------
        pretrained
            The pretrained :class:`~sctl.models.CSG2A` (left unchanged).
        adata
            Cell lines x genes with the response table ``adata.obsm[response_key]``.
        response_key, layer
            Passed to :meth:`setup_anndata`.
        **kwargs
            The settings of :class:`CSG2AIC50` (``drugs``, ``pairs``, ``dose``, ``time``, ``preset``, ``offset``, ...).

        Returns
        -------
        The untrained model; call :meth:`train`.

        Examples
        --------
        >>> ic50 = CSG2AIC50.from_pretrained(model, bulk, pairs=train_pairs).train()  # doctest: +SKIP
        """
        cls.setup_anndata(adata, response_key=response_key, layer=layer)
        return cls(adata, pretrained, **kwargs)

    @doc_params()
    def train(
        self,
        max_epochs: int | None = None,
        *,
        batch_size: int | None = None,
        lr: float | None = None,
        lr_schedule: str | None = None,
        lr_final: float | None = None,
        lr_epochs: int | None = None,
        weight_decay: float | None = None,
        freeze: bool | None = None,
        train_size: float | None = None,
        early_stopping: bool | None = None,
        patience: int | None = None,
        seed: int | None = None,
        enable_progress_bar: bool = True,
        accelerator: str = "auto",
        **trainer_kwargs: Any,
    ) -> Self:
        """Fine-tune the scaling layer and the head on the MSE of the standardised ln IC50 of the training pairs.

        Every setting left at ``None`` takes the value of the model's preset (``"paper"``: the paper and the
        authors' code; ``"sctl"``: the measured defaults, see ``docs/methods/csg2a.md``). Training again goes on
        from the current weights; the rows are the training pairs.

        Parameters
        ----------
        max_epochs, batch_size, lr, weight_decay
            Optimisation settings (Adam).
        lr_schedule, lr_final, lr_epochs
            ``"constant"`` learning rate, or ``"cosine"``: from ``lr`` to ``lr_final`` over the first ``lr_epochs``
            epochs, then ``lr_final`` (the authors' schedule).
        freeze
            Keep the pretrained network frozen (the paper); ``False`` trains it with the head (the paper's
            ablation). Its biases stay removed.
        {validation_args}
        seed, enable_progress_bar
            Seed of the split, shuffling and dropout (``None``: the model's ``seed``); show a progress bar.
        {trainer_args}

        Returns
        -------
        ``self``; the loss of each epoch is in ``history_["train_loss"]`` (and ``history_["validation_loss"]``),
        the settings in ``train_params_``.

        Examples
        --------
        >>> ic50.train(max_epochs=30, lr=1e-3)  # doctest: +SKIP
        """
        pairs = self._training_pairs
        if pairs is None:
            raise RuntimeError(
                "This CSG2AIC50 was loaded and keeps no training pairs: fine-tune a new one with "
                "`CSG2AIC50.from_pretrained(CSG2A.load(path), bulk, pairs=...)`."
            )
        given = preset_arguments(IC50_TRAIN_PRESETS, locals())
        settings = training_settings(self.init_params_["preset"], IC50_TRAIN_PRESETS, **given)
        run_settings = {k: v for k, v in settings.items() if k not in ("lr_schedule", "lr_final", "freeze")}
        run_settings["lr_final"] = settings["lr_final"] if settings["lr_schedule"] == "cosine" else None
        network, head, init = self.module.network, self.module.head, self.init_params_
        network.requires_grad_(not settings["freeze"])
        network.remove_biases()  # and keeps them frozen
        try:
            loss = IC50Loss(network, head, pairs.expression, pairs.features, init["dose"], init["time"])
            manager = _data.register_pairs(pairs.lines, pairs.drugs, pairs.target)
            train_stage(self, loss, manager, "Fine-tuning CSG2A on ln IC50", settings, locals(), run_settings)
        finally:
            network.requires_grad_(False)
        return self

    def predict(
        self,
        adata: AnnData | None = None,
        drugs: Sequence[str] | Mapping[str, str] | None = None,
        *,
        layer: str | None = None,
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
        batch_size: int = 256,
    ) -> pd.DataFrame:
        """Predict the ln IC50 of every cell line of ``adata`` for every drug.

        Parameters
        ----------
        adata
            Cell lines (or tumours) x genes, with all the model's genes, on any scale: they are robust z-scored
            with the training lines' stored median and MAD. ``None``: the data the model was built on.
        drugs
            Names (the fine-tuning drugs, those known to the pretrained model, or ``adata.uns["sctl_drugs"]``) or a
            mapping name -> SMILES (unseen drugs work). ``None``: the fine-tuning drugs.
        layer
            Layer with the expression (``None``: the layer used in fine-tuning).
        drug_features
            More drug embeddings, for a model set up with ``drug_features``.
        batch_size
            Cell lines per forward pass.

        Returns
        -------
        DataFrame, cell lines x drugs, predicted ln IC50.

        Examples
        --------
        >>> ic50.predict(bulk, {"new drug": "CC(=O)NC1=CC=C(O)C=C1"})  # doctest: +SKIP
        """
        if adata is None and self.adata is None:
            raise ValueError("Pass `adata=`: this loaded model holds no data.")
        adata = self.adata if adata is None else check_anndata(adata)
        init, fitted = self.init_params_, self.fitted_
        embeddings = self._embeddings(drug_features)
        smiles = self._drug_smiles(adata, list(fitted["drugs"]) if drugs is None else drugs, embeddings)
        x = torch.as_tensor(_data.aligned(adata, self._setup["layer"] if layer is None else layer, self.var_names_))
        features = clip_descriptors(self._drugs.featurize(smiles, embeddings), fitted["feature_range"])
        offsets = drug_offsets(self._drugs, smiles, features, embeddings, init, fitted)
        self.module.eval()
        out = np.zeros((adata.n_obs, len(smiles)), dtype=np.float64)
        with torch.no_grad():
            for j in range(len(smiles)):
                for start in range(0, adata.n_obs, batch_size):
                    chunk = x[start : start + batch_size]
                    n = len(chunk)
                    dose, time = torch.full((n,), init["dose"]), torch.full((n,), init["time"])
                    out[start : start + n, j] = self.module(chunk, features[j].expand(n, -1), dose, time).numpy()
                out[:, j] += offsets[j]
        return pd.DataFrame(out, index=adata.obs_names, columns=pd.Index(list(smiles), name="drug"))
