"""CSG²A: condition-specific gene-gene attention, pretrained on perturbation profiles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi.data import AnnDataManager
from scvi.model.base import BaseModelClass

from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.models._base import preset_arguments
from sctl.models.csg2a import _data
from sctl.models.csg2a._analysis import PerturbationDistanceMixin
from sctl.models.csg2a._drugs import DrugCatalogue, fit_descriptor_scaling
from sctl.models.csg2a._module import CSG2AModule, build_network
from sctl.models.csg2a._persistence import PretrainedPersistence
from sctl.models.csg2a._preset_tables import INIT_PRESETS, TRAIN_PRESETS, network_params, training_settings
from sctl.models.csg2a._training_plan import PretrainingLoss, run


class CSG2A(PerturbationDistanceMixin, PretrainedPersistence, BaseModelClass):
    """Condition-Specific Gene-Gene Attention network (CSG²A), pretrained to predict drug-perturbed profiles.

    The pretraining stage of CSG²A :cite:p:`bang2025csg2a` (github.com/eugenebang/CSG2A): from the basal (matched
    control) profile ``g0`` and the chemical condition (structure, dose, time), predict the perturbed profile,
    MSE loss. The chemical condition encoder maps ``[drug features, (dose / 100 µM) W_dose, (time / 72 h)
    W_time]`` through an MLP to one value per gene, ``D``; each gene gets ``Q_i = g0_i W_gene[i] + D_i
    W_comp[i]``; the weights of the first layer are ``Q Q^T / sqrt(h) + A_PPI``, followed by layer norm, ReLU,
    dropout and a linear output layer. The second stage, fine-tuning on ln IC50 with the network frozen, is its
    own model built from this one, as scvi-tools builds SCANVI from SCVI: :class:`~sctl.models.CSG2AIC50`.

    ``preset="paper"`` sets every choice the paper states (and, where it is silent, the authors' code);
    ``preset="sctl"`` (default) keeps sctl's measured defaults. Any setting passed explicitly wins. The table of
    both presets, with the source of each value and why sctl differs, is in ``docs/methods/csg2a.md``. Beyond
    the presets: drugs are embedded from RDKit features of their SMILES unless precomputed embeddings (e.g. of
    the Molecule Attention Transformer of the paper) are given to :meth:`setup_anndata` as ``drug_features``;
    inputs are robust z-scores (median, 1.4826 MAD per gene) fitted on the training profiles and stored.

    Cost: training and prediction never build the attention map. The scores are weights without a softmax, so
    ``Q (Q^T g0)`` costs ``O(N_gene h)`` per sample, and the PPI prior, an edge list, ``O(E)`` for ``E`` edges.
    What stays quadratic is the paper's dense output layer (``N_gene^2`` weights) and :meth:`get_attention`, which
    materialises the map (``O(N_gene^2 h)`` time per sample).

    An scvi-tools model: :meth:`setup_anndata` registers the profiles with an :class:`~scvi.data.AnnDataManager`
    and :meth:`train` runs a :class:`~scvi.train.TrainingPlan` with :class:`~scvi.train.TrainRunner`, so
    ``accelerator``, ``devices``, ``strategy``, callbacks and early stopping reach Lightning as for the other
    models. :meth:`save` and :meth:`load` never pickle: weights as tensors (read with ``weights_only=True``),
    settings as JSON.

    Parameters
    ----------
    adata
        Perturbation profiles x genes registered by :meth:`setup_anndata`; ``X`` (or the setup ``layer``)
        holds the perturbed expression (e.g. L1000 log2 expression), the basal layer the matched control mean.
    ppi
        Protein-interaction prior: an edge list (``source``, ``target``, ``weight``, e.g.
        :func:`sctl.datasets.ppi`) aligned with :func:`sctl.pp.ppi_adjacency`, or a ready genes x genes
        matrix; ``None`` uses the identity.
    preset
        ``"sctl"`` (default) or ``"paper"``: the values of the settings below left at ``None``, and of
        :meth:`train` (and, by default, of :class:`~sctl.models.CSG2AIC50`). Recorded in ``init_params_``.
    attention
        ``"full"``: attention scores between every pair of genes (paper). ``"ppi"``: scores only between genes
        joined in the prior and of each gene with itself (needs ``ppi``). ``"auto"`` (sctl): ``"ppi"`` when
        ``ppi`` is given, else ``"full"``.
    ppi_weights
        ``"binary"`` (both presets): every edge, and each gene with itself, weighs 1, the paper's adjacency.
        ``"raw"``: the edge list's weights (a warning when they exceed 1, e.g. STRING's 0-1000 scores);
        ``"zero"``: no prior term (the paper's ablation), the edges still restricting ``attention="ppi"``.
    prior
        ``"sparse"`` keeps the prior as an edge list (time and memory grow with the edges); ``"dense"`` as a
        genes x genes matrix (grows with genes squared). Same numbers up to rounding.
    n_hidden
        Size ``h`` of the per-gene attention representation (sctl 16, paper 64).
    n_condition_hidden
        Hidden units of the chemical condition encoder's MLP (sctl 128); ``0``: one linear layer to the genes
        (paper).
    dropout
        Dropout rate.
    bias
        Whether the pretrained layers have biases (the paper has none; fine-tuning removes them anyway).
    residual
        Add the network's output to ``g0`` so that it learns the drug-induced change (sctl); ``False``: the
        output is the perturbed profile (paper).
    n_bits
        Length of the Morgan fingerprint.
    seed
        Seed of the initial weights and of training.

    Examples
    --------
    >>> plate = sctl.datasets.lincs()  # doctest: +SKIP
    >>> sctl.pp.match_controls(plate, control="DMSO")  # doctest: +SKIP
    >>> CSG2A.setup_anndata(plate, drug_key="drug", smiles={"trametinib": "CC1=C2..."})  # doctest: +SKIP
    >>> model = CSG2A(plate, ppi=sctl.datasets.ppi())  # doctest: +SKIP
    >>> paper = CSG2A(plate, ppi=sctl.datasets.ppi(), preset="paper")  # as the paper describes it  # doctest: +SKIP
    >>> model.train(max_epochs=100)  # doctest: +SKIP
    >>> ic50 = sctl.models.CSG2AIC50.from_pretrained(model, bulk, pairs=train_pairs).train()  # doctest: +SKIP
    """

    predicts = "profile"  # for :func:`sctl.tl.predict_perturbation`

    def __init__(
        self,
        adata: AnnData,
        ppi: pd.DataFrame | np.ndarray | sparse.spmatrix | None = None,
        *,
        preset: str = "sctl",
        attention: str | None = None,
        ppi_weights: str | None = None,
        prior: str = "sparse",
        n_hidden: int | None = None,
        n_condition_hidden: int | None = None,
        dropout: float | None = None,
        bias: bool | None = None,
        residual: bool | None = None,
        n_bits: int = 1024,
        seed: int = 0,
    ) -> None:
        super().__init__(check_anndata(adata))
        var_names = pd.Index(adata.var_names.astype(str))
        given = preset_arguments(INIT_PRESETS, locals())
        params = network_params(preset, ppi is not None, **given, prior=prior, n_bits=n_bits, seed=seed)
        self._record_init_params(locals(), **params)
        self._build(var_names, self.init_params_, _data.adjacency(ppi, var_names, params["ppi_weights"]))

    def _build(self, var_names: pd.Index, params: dict[str, Any], prior: Any) -> None:
        """The network and drug catalogue of ``params`` (the resolved settings, also of a saved model)."""
        self.var_names_ = var_names
        self.init_params_ = params
        self.history_: dict[str, list[float]] = {}
        self.train_params_: dict[str, Any] | None = None
        self._drugs = DrugCatalogue.from_setup(params["n_bits"], self._setup)
        self.module = build_network(len(var_names), self._drugs.n_features, params, prior)
        self._model_summary_string = f"CSG2A: {len(var_names)} genes, h={params['n_hidden']}, preset {params['preset']}"

    def __repr__(self) -> str:
        params, stage = self.init_params_, "pretrained" if self.is_trained_ else "untrained"
        return f"CSG2A({len(self.var_names_)} genes, h={params['n_hidden']}, preset={params['preset']!r}, {stage})"

    @property
    def _network(self) -> CSG2AModule:
        return self.module

    @property
    def _basal_layer(self) -> str | None:
        return self._setup["basal_layer"]

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        *,
        basal_layer: str = "sctl_basal",
        layer: str | None = None,
        smiles_key: str | None = None,
        drug_key: str | None = None,
        smiles: Mapping[str, str] | pd.Series | None = None,
        dose_key: str = "dose",
        time_key: str = "time",
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> None:
        """Register the fields of a perturbation AnnData used for pretraining.

        Every check happens here: the layers exist, every profile has a valid SMILES, a dose and a time. The
        perturbed and basal layers, each profile's drug, dose and time are registered with scvi-tools'
        :class:`~scvi.data.AnnDataManager` (:meth:`~scvi.model.base.BaseModelClass.register_manager`); three numeric
        columns are added to ``adata.obs`` for it (``_sctl_csg2a_drug``, ``_sctl_csg2a_dose``,
        ``_sctl_csg2a_time``), as scvi-tools adds its own ``_scvi_*`` keys. As for any scvi-tools model, a copy
        of the AnnData (or one read back from h5ad) is set up again.

        Parameters
        ----------
        adata
            Treated profiles x genes. Perturbed expression in ``X`` (or ``layer``); the basal profile of each
            (the mean of its matched controls) in ``adata.layers[basal_layer]``, as written by
            :func:`sctl.pp.match_controls`.
        basal_layer
            Layer with the basal profiles.
        layer
            Layer with the perturbed profiles (``None``: ``X``).
        smiles_key
            Column of ``adata.obs`` with one SMILES per profile. Give it, or ``drug_key``.
        drug_key
            Column of ``adata.obs`` with drug names, translated to SMILES by ``smiles``.
        smiles
            Drug name -> SMILES, kept whole: drugs absent from these profiles (e.g. held out) are predicted by name
            later. ``None`` reads ``adata.uns["sctl_drugs"]["smiles"]`` and keeps the drugs of these profiles;
            others are then looked up in the ``uns`` of the AnnData given to :meth:`predict`.
        dose_key, time_key
            Columns of ``adata.obs`` with the dose (µM) and time (hours).
        drug_features
            Precomputed drug embeddings (e.g. of the Molecule Attention Transformer, as in the paper): drug name
            -> vector, or a DataFrame drugs x dimensions; needs ``drug_key``. The model then embeds every drug by
            name from this table (and from the ``drug_features=`` of later calls) instead of RDKit features of
            its SMILES, which are not needed. ``None``: RDKit descriptors and Morgan bits of the SMILES.
        **kwargs
            Passed to :meth:`scvi.data.AnnDataManager.register_fields` (scvi-tools passes a saved model's
            ``source_registry``).

        Examples
        --------
        >>> CSG2A.setup_anndata(plate, drug_key="drug", smiles={"dasatinib": "CC1=..."})  # doctest: +SKIP
        """
        setup, codes = _data.resolve_setup(
            check_anndata(adata), basal_layer, layer, smiles_key, drug_key, smiles, dose_key, time_key, drug_features
        )
        cls.register_manager(_data.register_profiles(adata, setup, codes, **kwargs))  # checks the dose and time

    @doc_params()
    def train(
        self,
        max_epochs: int | None = None,
        *,
        batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        train_size: float | None = None,
        early_stopping: bool | None = None,
        patience: int | None = None,
        seed: int | None = None,
        enable_progress_bar: bool = True,
        accelerator: str = "auto",
        **trainer_kwargs: Any,
    ) -> Self:
        """Pretrain on the registered perturbation profiles (MSE on the robust z-scored perturbed profile).

        Runs a :class:`~scvi.train.TrainingPlan` with scvi-tools' :class:`~scvi.train.TrainRunner` (Lightning).
        Every setting left at ``None`` takes the value of the model's preset (``"sctl"``: 200 epochs, batch 32, lr
        1e-3, no validation; ``"paper"``: the authors' code, batch 128, lr 1e-4, 10 % validates, early stopping
        after 20 epochs without improvement, at most 1000 epochs). The trained network returns to the CPU, where
        it predicts.

        Parameters
        ----------
        max_epochs, batch_size, lr, weight_decay
            Passes over the profiles, minibatch size, Adam learning rate and weight decay.
        {validation_args}
        seed
            Seed of the split, shuffling and dropout (``None``: the model's ``seed``).
        enable_progress_bar
            Show a progress bar over the epochs (with the loss).
        {trainer_args}

        Returns
        -------
        ``self``; the loss of each epoch is in ``history_["train_loss"]`` (and ``history_["validation_loss"]``).

        Examples
        --------
        >>> model.train(max_epochs=100, lr=3e-3)  # doctest: +SKIP
        """
        if self.adata is None:
            raise RuntimeError("This model has no training data (it was loaded); create a new one to train.")
        given = preset_arguments(TRAIN_PRESETS, locals())
        settings = training_settings(self.init_params_["preset"], TRAIN_PRESETS, **given)
        adata = self._validate_anndata(self.adata)
        labels, values = _data.obs_smiles(adata, self._setup, None)
        features, codes = _data.unique_features(labels, values, self.init_params_["n_bits"], self._embeddings())
        if not np.array_equal(codes.numpy(), self.get_from_registry(adata, _data.DRUG_KEY).ravel()):
            raise ValueError(
                "The drugs of `adata.obs` changed since `CSG2A.setup_anndata`: set the AnnData up again, then build "
                "a new model."
            )
        center, scale = _data.robust_fit(_data.aligned(adata, self._setup["layer"], self.var_names_))
        self.module.requires_grad_(True)
        self.module.input_center.copy_(torch.as_tensor(center))
        self.module.input_scale.copy_(torch.as_tensor(scale))
        if self._setup.get("drug_features") is None:  # embeddings stay as they are
            fit_descriptor_scaling(self.module.encoder, features)
        loss = PretrainingLoss(self.module, features)
        train_stage(self, loss, self.adata_manager, "Pretraining CSG2A", settings, locals())
        return self

    def predict(
        self,
        adata: AnnData | None = None,
        *,
        drug: str | Sequence[str] | None = None,
        smiles: _data.SmilesSpec = None,
        dose: float | Sequence[float] | None = None,
        time: float | Sequence[float] | None = None,
        basal_layer: str | None = None,
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
        batch_size: int = 256,
    ) -> pd.DataFrame:
        """Predict the perturbed profile of every observation, in the units of the training profiles.

        Each observation's basal profile goes through the network under its condition: drug, dose and time.

        Parameters
        ----------
        adata
            Profiles with basal expression in ``basal_layer`` and the model's genes; ``None``: the training data.
        drug
            Drug name for every profile (or one per profile), translated to SMILES through the setup mapping or
            ``adata.uns["sctl_drugs"]``; an alternative to ``smiles``.
        smiles
            Drug of each profile: one SMILES for all, a mapping drug name -> SMILES (read through the setup's
            ``drug_key``), or one SMILES per profile; ``None`` uses the setup. Any valid SMILES works, seen in
            training or not.
        dose, time
            Dose (µM) and time (hours), one value or one per profile; ``None`` reads the setup's columns.
        basal_layer
            Layer with the basal profiles (``None``: the setup's; ``"X"``: ``adata.X``).
        drug_features
            More drug embeddings (name -> vector, or a DataFrame drugs x dimensions) for a model set up with
            ``drug_features``: drugs absent from the setup's table.
        batch_size
            Profiles per forward pass.

        Returns
        -------
        DataFrame, observations x genes.

        Examples
        --------
        >>> model.predict(plate[test], dose=3.33)  # doctest: +SKIP
        """
        if adata is None and self.adata is None:
            raise ValueError("Pass `adata=`: this loaded model holds no data.")
        adata = self.adata if adata is None else check_anndata(adata)
        embeddings = self._embeddings(drug_features)
        if drug is not None:
            if smiles is not None:
                raise ValueError("Pass `drug=` (names) or `smiles=`, not both.")
            names = [drug] * adata.n_obs if isinstance(drug, str) else [str(d) for d in drug]
            table = self._drug_smiles(adata, list(dict.fromkeys(names)), embeddings)
            smiles = [table[name] for name in names]
        setup = self._setup
        layer = setup["basal_layer"] if basal_layer is None else (None if basal_layer == "X" else basal_layer)
        labels, values = _data.obs_smiles(adata, setup, smiles)
        features, codes = _data.unique_features(labels, values, self.init_params_["n_bits"], embeddings)
        basal = self._to_z(torch.as_tensor(_data.aligned(adata, layer, self.var_names_)))
        doses, times = (
            torch.as_tensor(_data.condition_value(adata, setup[f"{what}_key"], given, what, unit), dtype=torch.float32)
            for what, given, unit in (("dose", dose, "µM"), ("time", time, "hours"))
        )
        rows = []
        with torch.no_grad():
            for start in range(0, len(basal), batch_size):
                idx = torch.arange(start, min(start + batch_size, len(basal)))
                out = self.module(basal[idx], features[codes[idx]], doses[idx], times[idx])
                rows.append(out["predicted"] * self.module.input_scale + self.module.input_center)
        values = torch.cat(rows).numpy() if rows else np.zeros((0, len(self.var_names_)), np.float32)
        return pd.DataFrame(values, index=adata.obs_names, columns=self.var_names_)


def train_stage(
    model: BaseModelClass,
    loss: torch.nn.Module,
    manager: AnnDataManager,
    label: str,
    settings: dict[str, Any],
    arguments: Mapping[str, Any],
    run_settings: dict[str, Any] | None = None,
) -> None:
    """Train one stage of a CSG²A model (pretraining or fine-tuning) and record it.

    The run is :func:`~sctl.models.csg2a._training_plan.run` with ``settings``, the stage's resolved ``train``
    settings (or ``run_settings`` when given), and with the ``seed`` (``None``: the model's), ``enable_progress_bar``,
    ``accelerator`` and ``trainer_kwargs`` of ``arguments``, the ``train`` call's ``locals()``. Sets ``history_``,
    ``is_trained_`` and ``train_params_`` (``settings``).
    """
    seed = model.init_params_["seed"] if arguments["seed"] is None else arguments["seed"]
    model.history_ = run(
        loss,
        manager,
        label=label,
        **(settings if run_settings is None else run_settings),
        seed=seed,
        **{name: arguments[name] for name in ("enable_progress_bar", "accelerator", "trainer_kwargs")},
    )
    model.is_trained_ = True
    model.train_params_ = settings
