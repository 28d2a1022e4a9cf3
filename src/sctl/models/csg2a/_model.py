"""CSG²A: condition-specific gene-gene attention, pretrained on perturbations and fine-tuned on ln IC50."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi.data import AnnDataManager

from sctl._validate import check_anndata, check_response, get_matrix, preview

from .._io import load_model, load_state, save_model
from .._presets import resolve_preset
from ..baselines._drug_neighbours import neighbour_mean, tanimoto
from . import _data
from ._module import CSG2AModule, IC50Head, ic50_forward
from ._training_plan import IC50Loss, PretrainingLoss, run

SETUP_KEY = "_sctl_csg2a_setup"
N_DESCRIPTORS = 13
OFFSETS = ("neighbours", "mean", "none")
STAGES = ("pretrained", "finetuned")
LR_SCHEDULES = ("constant", "cosine")

# Each preset's values; docs/methods/csg2a.md gives the source of every "paper" value (paper section, authors' code,
# or sctl where both are silent).
INIT_PRESETS = {
    "sctl": {
        "attention": "auto",
        "ppi_weights": "binary",
        "n_hidden": 16,
        "n_condition_hidden": 128,
        "dropout": 0.1,
        "bias": False,
        "residual": True,
    },
    "paper": {
        "attention": "full",  # A.1: every gene pair
        "ppi_weights": "binary",  # A.1 "adjacency matrix"; authors' code: 0/1 with self-loops
        "n_hidden": 64,  # authors' code (gene_hdim)
        "n_condition_hidden": 0,  # authors' code: one linear layer from the drug and dose / time to the genes
        "dropout": 0.1,  # authors' code
        "bias": False,  # A.2
        "residual": False,  # A.1: the network predicts the perturbed profile
    },
}
TRAIN_PRESETS = {
    "sctl": {
        "max_epochs": 200,
        "batch_size": 32,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "train_size": 1.0,
        "early_stopping": False,
        "patience": 10,
    },
    "paper": {  # authors' code: Adam, until 20 epochs without a better validation loss (10 % validates)
        "max_epochs": 1000,  # sctl: a cap on the authors' open-ended loop
        "batch_size": 128,
        "lr": 1e-4,
        "weight_decay": 0.0,
        "train_size": 0.9,
        "early_stopping": True,
        "patience": 20,
    },
}
FINETUNE_PRESETS = {
    "sctl": {
        "max_epochs": 30,
        "batch_size": 64,
        "lr": 1e-3,
        "lr_schedule": "constant",
        "lr_final": 1e-5,
        "lr_epochs": 20,
        "weight_decay": 0.0,
        "n_projection": 64,
        "n_head_hidden": 32,
        "scaling": "gene",
        "freeze": True,
        "offset": "neighbours",
        "clip_features": True,
        "train_size": 1.0,
        "early_stopping": False,
        "patience": 10,
    },
    "paper": {
        "max_epochs": 1000,  # sctl: a cap on the authors' open-ended loop
        "batch_size": 128,  # authors' code
        "lr": 1e-4,  # authors' code
        "lr_schedule": "cosine",  # authors' code: cosine from 1e-4 to 1e-5 over 20 epochs, then constant
        "lr_final": 1e-5,
        "lr_epochs": 20,
        "weight_decay": 1e-5,  # authors' code
        "n_projection": 512,  # authors' code
        "n_head_hidden": [512, 64],  # authors' code
        "scaling": "scalar",  # 3.2 / A.2: two latent variables, mean and standard deviation
        "freeze": True,  # 3.2: all pretrained parameters frozen
        "offset": "none",  # 3.2: the head regresses ln IC50
        "clip_features": False,
        "train_size": 0.9,  # authors' code: 10 % validates, early stopping after 20 epochs
        "early_stopping": True,
        "patience": 20,
    },
}


class CSG2A:
    """Condition-Specific Gene-Gene Attention network (CSG²A) for perturbation and drug response prediction.

    Bang, Koo & Kim (2025), "Transfer Learning of Condition-Specific Perturbation in Gene Interactions: Towards
    Multi-modal Foundational Modeling of Drug Response", ICML 2025 workshop on multi-modal foundation models
    for life sciences (github.com/eugenebang/CSG2A).

    Two stages:

    1. **Pretraining** on perturbation profiles (:meth:`train`): from the basal (matched control) profile
       ``g0`` and the chemical condition (structure, dose, time) predict the perturbed profile, MSE loss. The
       chemical condition encoder maps ``[drug features, (dose / 100 µM) W_dose, (time / 72 h) W_time]``
       through an MLP to one value per gene, ``D``; each gene gets ``Q_i = g0_i W_gene[i] + D_i W_comp[i]``;
       the weights of the first layer are ``Q Q^T / sqrt(h) + A_PPI``, followed by layer norm, ReLU, dropout
       and a linear output layer.
    2. **Fine-tuning** on ln IC50 (:meth:`finetune_ic50`): the pretrained network is frozen and its biases
       removed; a learnable scaling ``(g0 - mu) / sigma`` aligns the new basal profiles with the pretraining
       space, and a head regresses ln IC50 from the scaled basal profile, the predicted perturbed profile and the
       condition vector, at a fixed condition (10 µM, 72 h as in the paper).

    ``preset="paper"`` sets every choice the paper states (and, where it is silent, the authors' code);
    ``preset="sctl"`` (default) keeps sctl's measured defaults. Any setting passed explicitly wins. The table of
    both presets, with the source of each value and why sctl differs, is in ``docs/methods/csg2a.md``. Beyond
    the presets: drugs are embedded from RDKit features of their SMILES unless precomputed embeddings (e.g. of
    the Molecule Attention Transformer of the paper) are given to :meth:`setup_anndata` as ``drug_features``;
    inputs are robust z-scores (median, 1.4826 MAD per gene) fitted on the training profiles and stored.

    Cost: training and prediction never build the attention map. The paper's scores are used as weights without
    a softmax, so ``Q Q^T`` has rank ``h`` and ``Q (Q^T g0)`` costs ``O(N_gene h)`` per sample; the PPI prior is
    kept as an edge list and multiplied as a sparse matrix, ``O(E)`` for ``E`` edges (``prior="dense"`` keeps
    the ``N_gene x N_gene`` matrix of earlier versions). What stays quadratic is the paper's dense output layer
    (``N_gene^2`` weights) and :meth:`get_attention`, which materialises the map: ``O(N_gene^2 h)`` time and
    ``N_gene^2`` memory per sample (~1 M entries for the 978 L1000 genes). ``benchmarks/perturbation_speed.py``
    measures both as the genes grow.

    Both stages train on scvi-tools' stack: the data are registered through an :class:`~scvi.data.AnnDataManager`
    (the profiles by :meth:`setup_anndata`, the (cell line, drug) pairs of the response table by
    :meth:`finetune_ic50`) and a :class:`~scvi.train.TrainingPlan` is run by :class:`~scvi.train.TrainRunner`, so
    ``accelerator``, ``devices``, ``strategy``, callbacks and early stopping reach Lightning as for the other
    models. The class is not a :class:`~scvi.model.base.BaseModelClass`: the two stages read two different AnnData
    objects, and scvi-tools' ``load`` unpickles; here the weights are loaded with ``weights_only=True`` and
    everything else is JSON.

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
        :meth:`train` and :meth:`finetune_ic50`. Recorded in ``init_params_`` and the saved model.
    attention
        ``"full"``: attention scores between every pair of genes (paper). ``"ppi"``: scores only between genes
        joined in the prior and of each gene with itself (sctl; needs ``ppi``). ``"auto"`` (sctl): ``"ppi"``
        when ``ppi`` is given, else ``"full"``.
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
    >>> model.finetune_ic50(bulk, drugs=["Trametinib"], pairs=train_pairs)  # doctest: +SKIP
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
        setup = _get_setup(adata)
        var_names = pd.Index(adata.var_names.astype(str))
        given = resolve_preset(
            preset,
            INIT_PRESETS,
            attention=attention,
            ppi_weights=ppi_weights,
            n_hidden=n_hidden,
            n_condition_hidden=n_condition_hidden,
            dropout=dropout,
            bias=bias,
            residual=residual,
        )
        attention = given["attention"]
        if attention == "auto":
            attention = "full" if ppi is None else "ppi"
        if attention == "ppi" and ppi is None:
            raise ValueError(
                "`attention='ppi'` restricts attention to the PPI edges, so it needs `ppi=` (e.g. "
                "`sctl.datasets.ppi()`); use `attention='full'` without a prior."
            )
        params = {
            "preset": preset,
            "attention": str(attention),
            "ppi_weights": str(given["ppi_weights"]),
            "prior": str(prior),
            "n_hidden": int(given["n_hidden"]),
            "n_condition_hidden": int(given["n_condition_hidden"]),
            "dropout": float(given["dropout"]),
            "bias": bool(given["bias"]),
            "residual": bool(given["residual"]),
            "n_bits": int(n_bits),
            "seed": int(seed),
        }
        self._build(var_names, setup, params, _data.adjacency(ppi, var_names, params["ppi_weights"]))
        self.adata = adata

    def _build(self, var_names: pd.Index, setup: dict[str, Any], params: dict[str, Any], prior: Any) -> None:
        # models saved before these options: what they used (raw prior weights, residual output, no preset)
        params = {"attention": "full", "prior": "sparse", "ppi_weights": "raw", "residual": True, **params}
        params.setdefault("preset", "sctl")
        self.var_names_ = var_names
        self.setup_ = setup
        self.init_params_ = params
        self.adata: AnnData | None = None
        self.is_trained_ = False
        self.history_: dict[str, list[float]] = {}
        self.finetune_: dict[str, Any] | None = None
        self.train_params_: dict[str, Any] | None = None
        self.head: IC50Head | None = None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(params["seed"])
            self.module = CSG2AModule(
                len(var_names),
                self._n_drug_features(),
                n_hidden=params["n_hidden"],
                n_condition_hidden=params["n_condition_hidden"],
                adjacency=prior,
                prior=params["prior"],
                attention=params["attention"],
                dropout=params["dropout"],
                bias=params["bias"],
                residual=params["residual"],
                use_prior=params["ppi_weights"] != "zero",
            )
        self.module.eval()

    def __repr__(self) -> str:
        stage = (
            "fine-tuned on " + self.finetune_["key"]
            if self.finetune_
            else ("pretrained" if self.is_trained_ else "untrained")
        )
        params = self.init_params_
        return f"CSG2A({len(self.var_names_)} genes, h={params['n_hidden']}, preset={params['preset']!r}, {stage})"

    @property
    def drug_smiles_(self) -> dict[str, str]:
        """Drug name -> SMILES of the drugs the model knows (setup, IC50 fine-tuning); embedded ones map to their name.

        A copy, read by :func:`sctl.tl.drug_smiles`.
        """
        return {
            **(self.setup_.get("smiles") or {}),
            **(self.finetune_ or {}).get("drugs", {}),
            **{name: name for name in self._embeddings() or {}},
        }

    # ------------------------------------------------------------------------------------------------ setup
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
    ) -> None:
        """Register the fields of a perturbation AnnData used for pretraining.

        Every check happens here: the layers exist, every profile has a valid SMILES, a dose and a time. The
        perturbed and basal layers, each profile's drug, dose and time are registered with scvi-tools'
        :class:`~scvi.data.AnnDataManager`; three numeric columns are added to ``adata.obs`` for it
        (``_sctl_csg2a_drug``, ``_sctl_csg2a_dose``, ``_sctl_csg2a_time``), as scvi-tools adds its own ``_scvi_*``
        keys.

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

        Returns
        -------
        ``None``; the setup is also stored in ``adata.uns["_sctl_csg2a_setup"]``, so it survives writing the AnnData
        to h5ad.

        Examples
        --------
        >>> CSG2A.setup_anndata(plate, drug_key="drug", smiles={"dasatinib": "CC1=..."})  # doctest: +SKIP
        """
        check_anndata(adata)
        if (smiles_key is None) == (drug_key is None):
            raise ValueError(
                "Give exactly one of `smiles_key` (a SMILES column) or `drug_key` (drug names) with `smiles=`."
            )
        get_matrix(adata, basal_layer)
        get_matrix(adata, layer)
        embeddings = None
        if drug_features is not None:
            if drug_key is None:
                raise ValueError("`drug_features` are looked up by drug name: pass `drug_key=` (not `smiles_key=`).")
            embeddings = _data.embedding_table(drug_features)
        mapping = None
        if drug_key is not None and embeddings is not None:
            mapping = {str(k): v for k, v in dict(smiles).items()} if smiles is not None else {}
        elif drug_key is not None:
            mapping = _data.drug_table(adata) if smiles is None else {str(k): v for k, v in dict(smiles).items()}
            if not mapping:
                raise ValueError(
                    "No SMILES mapping: pass `smiles=` (drug name -> SMILES) or store them in "
                    "`adata.uns['sctl_drugs']['smiles']`."
                )
        setup = {
            "basal_layer": basal_layer,
            "layer": layer,
            "smiles_key": smiles_key,
            "drug_key": drug_key,
            "smiles": mapping,
            "dose_key": dose_key,
            "time_key": time_key,
            "drug_features": embeddings,
        }
        labels, values = _data.obs_smiles(adata, setup, None)
        _, codes = _data.unique_features(labels, values, 8, embeddings)  # checks every drug, naming the bad ones
        if mapping is not None and smiles is None:  # a whole table from `uns`: keep these profiles' drugs only
            used = set(pd.unique(labels.astype(str)))
            setup["smiles"] = {k: v for k, v in mapping.items() if k in used}
        _data.register_profiles(adata, setup, codes.numpy())  # checks the dose and time of every profile
        adata.uns[SETUP_KEY] = setup

    @classmethod
    def _get_most_recent_anndata_manager(cls, adata: AnnData, required: bool = False) -> AnnDataManager | None:
        """The :class:`~scvi.data.AnnDataManager` of ``adata``, rebuilt from its stored setup.

        scvi-tools' autotune reads the setup method and arguments from it to set up the data of each trial.
        """
        if SETUP_KEY not in adata.uns and not required:
            return None
        setup = _get_setup(adata)  # without a setup: an error saying how to make one
        labels, values = _data.obs_smiles(adata, setup, None)
        codes = _data.unique_features(labels, values, 8, setup.get("drug_features"))[1]
        return _data.register_profiles(adata, setup, codes.numpy())

    # ------------------------------------------------------------------------------------------ pretraining
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
        after 20 epochs without improvement, at most 1000 epochs).

        Parameters
        ----------
        max_epochs, batch_size, lr, weight_decay
            Passes over the profiles, minibatch size, Adam learning rate and weight decay.
        train_size
            Share of the profiles trained on; the rest is the validation set (``validation_loss`` in
            ``history_``), watched by early stopping.
        early_stopping
            Stop when ``validation_loss`` has not improved for ``patience`` epochs (needs ``train_size < 1``).
        patience
            Epochs without improvement before stopping.
        seed
            Seed of the split, shuffling and dropout (``None``: the model's ``seed``).
        enable_progress_bar
            Show a progress bar over the epochs (with the loss).
        accelerator
            Lightning accelerator: ``"auto"`` (a CUDA GPU when there is one, else the CPU), ``"cpu"``, ``"gpu"``,
            ``"mps"``, ... The trained network returns to the CPU, where it predicts.
        **trainer_kwargs
            Passed unchanged to :class:`scvi.train.Trainer` (Lightning's ``Trainer``), e.g. ``devices=2`` (one
            device by default) with ``strategy="ddp"``, ``callbacks=[...]``, ``check_val_every_n_epoch``,
            ``logger``.

        Returns
        -------
        ``self``; the loss of each epoch is in ``history_["train_loss"]`` (and ``history_["validation_loss"]``).
        Training a fine-tuned model again discards its ln IC50 head.

        Examples
        --------
        >>> model.train(max_epochs=100, lr=3e-3)  # doctest: +SKIP
        """
        if self.adata is None:
            raise RuntimeError("This model has no training data (it was loaded); create a new one to train.")
        if self.head is not None:
            warnings.warn("Pretraining again discards the fine-tuned ln IC50 head.", UserWarning, stacklevel=2)
            self.head, self.finetune_ = None, None
        settings = resolve_preset(
            self.init_params_["preset"],
            TRAIN_PRESETS,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            train_size=train_size,
            early_stopping=early_stopping,
            patience=patience,
        )
        self.module.requires_grad_(True)
        labels, values = _data.obs_smiles(self.adata, self.setup_, None)
        features, codes = _data.unique_features(labels, values, self.init_params_["n_bits"], self._embeddings())
        manager = _data.register_profiles(self.adata, self.setup_, codes.numpy())
        center, scale = _data.robust_fit(_data.aligned(self.adata, self.setup_["layer"], self.var_names_))
        self.module.input_center.copy_(torch.as_tensor(center))
        self.module.input_scale.copy_(torch.as_tensor(scale))
        self._fit_feature_scaling(features)
        self.history_ = run(
            PretrainingLoss(self.module, features),
            manager,
            label="Pretraining CSG2A",
            **settings,
            seed=self.init_params_["seed"] if seed is None else seed,
            enable_progress_bar=enable_progress_bar,
            accelerator=accelerator,
            trainer_kwargs=trainer_kwargs,
        )
        self.is_trained_ = True
        self.train_params_ = settings
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

        Parameters
        ----------
        adata
            Profiles with basal expression in ``basal_layer`` and the model's genes; ``None``: the training data.
        drug
            Drug name for every profile (or one per profile), translated to SMILES through the setup mapping,
            the fine-tuning drugs or ``adata.uns["sctl_drugs"]``; an alternative to ``smiles``.
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
        adata = self._data_or_training(adata)
        embeddings = self._embeddings(drug_features)
        if drug is not None:
            if smiles is not None:
                raise ValueError("Pass `drug=` (names) or `smiles=`, not both.")
            names = [drug] * adata.n_obs if isinstance(drug, str) else [str(d) for d in drug]
            table = self._drug_smiles(adata, list(dict.fromkeys(names)), embeddings)
            smiles = [table[name] for name in names]
        inputs = self._profile_inputs(adata, smiles, dose, time, basal_layer, embeddings)
        basal = self._to_z(inputs["basal"])
        rows = []
        with torch.no_grad():
            for start in range(0, len(basal), batch_size):
                idx = torch.arange(start, min(start + batch_size, len(basal)))
                out = self.module(
                    basal[idx], inputs["features"][inputs["codes"][idx]], inputs["dose"][idx], inputs["time"][idx]
                )
                rows.append(self._from_z(out["predicted"]))
        values = torch.cat(rows).numpy() if rows else np.zeros((0, len(self.var_names_)), np.float32)
        return pd.DataFrame(values, index=adata.obs_names, columns=self.var_names_)

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
        """The gene-gene weights ``Q Q^T / sqrt(h) + A_PPI`` of one chemical condition.

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
            robust z-scoring. ``"finetuned"``: they pass through the fine-tuned pipeline (the fine-tuning lines'
            robust z-scoring, then the learnt scaling layer), as the paper reads the maps of GDSC samples.
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
        >>> model.get_attention(bulk[:5], drug="Fulvestrant", stage="finetuned")  # doctest: +SKIP
        """
        if stage not in STAGES:
            raise ValueError(f"`stage` must be one of {STAGES}, got {stage!r}.")
        if (smiles is None) == (drug is None):
            raise ValueError("Name the drug: pass `smiles=` (its SMILES) or `drug=` (its name), one of them.")
        embeddings = self._embeddings(drug_features)
        if stage == "finetuned":
            if self.head is None or self.finetune_ is None:
                raise RuntimeError("`stage='finetuned'` needs a fine-tuned model: call `model.finetune_ic50` first.")
            dose = self.finetune_["dose"] if dose is None else dose
            time = self.finetune_["time"] if time is None else time
        if dose is None or time is None:
            raise ValueError("`get_attention` needs the condition: pass both `dose=` (µM) and `time=` (hours).")
        if stage == "finetuned":
            if isinstance(adata_or_basal, AnnData):
                layer = self.finetune_["layer"] if layer is None else layer
                values = _data.aligned(adata_or_basal, layer, self.var_names_)
            else:
                values = self._basal_matrix(adata_or_basal, None)
            basal = self.head.scale((torch.as_tensor(values) - self.head.bulk_center) / self.head.bulk_scale)
        else:
            basal = self._to_z(torch.as_tensor(self._basal_matrix(adata_or_basal, layer)))
        source = adata_or_basal if isinstance(adata_or_basal, AnnData) else AnnData()
        table = {"drug": smiles} if drug is None else self._drug_smiles(source, [drug], embeddings)
        features = _data.featurize(table, self.init_params_["n_bits"], embeddings)
        total = torch.zeros(len(self.var_names_), len(self.var_names_))
        with torch.no_grad():
            for start in range(0, len(basal), batch_size):
                chunk = basal[start : start + batch_size]
                n = len(chunk)
                condition = self.module.encoder(
                    features.expand(n, -1), torch.full((n,), float(dose)), torch.full((n,), float(time))
                )
                total += self.module.attention.weights(chunk, condition, include_prior=include_prior).sum(0)
        return pd.DataFrame((total / len(basal)).numpy(), index=self.var_names_, columns=self.var_names_)

    # ------------------------------------------------------------------------------------------ fine-tuning
    def finetune_ic50(
        self,
        bulk: AnnData,
        key: str = "ln_ic50",
        *,
        drugs: Sequence[str] | Mapping[str, str] | None = None,
        pairs: pd.DataFrame | None = None,
        dose: float = 10.0,
        time: float = 72.0,
        layer: str | None = None,
        max_epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        lr_schedule: str | None = None,
        lr_final: float | None = None,
        lr_epochs: int | None = None,
        weight_decay: float | None = None,
        n_projection: int | None = None,
        n_head_hidden: int | Sequence[int] | None = None,
        scaling: str | None = None,
        freeze: bool | None = None,
        offset: str | None = None,
        n_neighbours: int = 3,
        shrinkage: float = 1.0,
        clip_features: bool | None = None,
        train_size: float | None = None,
        early_stopping: bool | None = None,
        patience: int | None = None,
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
        seed: int | None = None,
        enable_progress_bar: bool = True,
        accelerator: str = "auto",
        **trainer_kwargs: Any,
    ) -> Self:
        """Fine-tune on a cell-line response table, the pretrained network frozen (Bang, Koo & Kim 2025, 3.2).

        Biases of the pretrained network are removed and its weights frozen (``freeze=False``: trained too, the
        paper's ablation); the scaling layer ``(g0 - mu) / sigma`` and the head are trained on the MSE of the
        standardised ln IC50. The basal profiles are first robust z-scored with the median and MAD of the training
        cell lines (stored and re-applied by :meth:`predict_ic50`). The (cell line, drug) pairs are registered with
        scvi-tools' :class:`~scvi.data.AnnDataManager` as indices into the expression and drug tables and the head
        is trained by :class:`~scvi.train.TrainRunner`, as in :meth:`train`.

        Every setting left at ``None`` takes the value of the model's preset (``"paper"``: the paper and the
        authors' code; ``"sctl"``: the measured defaults, see ``docs/methods/csg2a.md``). With ``offset`` other
        than ``"none"`` (sctl) the prediction is a drug offset plus the head's output: a training drug's mean
        ln IC50, or for an unseen drug the similarity-weighted mean of its ``n_neighbours`` most similar training
        drugs (Tanimoto of Morgan fingerprints; cosine of the embeddings with ``drug_features``) shrunk toward the
        mean of all training drugs; the head then learns the response minus the drug's mean.

        Parameters
        ----------
        bulk
            Cell lines x genes (all the model's genes) with the response table ``bulk.obsm[key]``.
        key
            Response table, ``"ln_ic50"`` by default.
        drugs
            Drugs to learn: names (SMILES from ``bulk.uns["sctl_drugs"]["smiles"]``, or embeddings) or a mapping
            name -> SMILES. ``None``: the drugs of ``pairs``, or every drug of the table with a SMILES.
        pairs
            Training pairs, columns ``cell_line`` and ``drug`` (e.g. the training part of
            :func:`sctl.pp.split`); ``None``: every tested pair of ``drugs``.
        dose, time
            The fixed condition of the response assay (10 µM and 72 h in the paper).
        layer
            Layer of ``bulk`` with the expression (``None``: ``X``).
        max_epochs, batch_size, lr, weight_decay
            Optimisation settings (Adam).
        lr_schedule, lr_final, lr_epochs
            ``"constant"`` learning rate, or ``"cosine"``: from ``lr`` to ``lr_final`` over the first ``lr_epochs``
            epochs, then ``lr_final`` (the authors' schedule).
        n_projection, n_head_hidden
            Sizes of the head: units of each projection, and of the regressor's hidden layer (or layers, a
            sequence).
        scaling
            ``"scalar"``: one ``mu`` and one ``sigma`` (the paper's two latent variables); ``"gene"``: one per gene.
        freeze
            Freeze the pretrained network (the paper); ``False`` trains it with the head.
        offset
            ``"neighbours"``, ``"mean"`` (an unseen drug gets the mean of the training drugs) or ``"none"`` (the head
            predicts the whole standardised ln IC50, the paper).
        n_neighbours
            Training drugs averaged for an unseen drug's offset (``offset="neighbours"``).
        shrinkage
            Weight of the mean of the training drugs in an unseen drug's offset, against the summed similarities
            (each in [0, 1]) of its neighbours: dissimilar drugs get about the overall mean.
        clip_features
            Clip the RDKit descriptors of every drug to their range over the fine-tuning drugs, so that an unseen
            drug does not push the frozen condition encoder outside what it was fitted on (no effect on embeddings).
        train_size, early_stopping, patience
            Share of the pairs trained on (the rest validates) and early stopping on it, as in :meth:`train`.
        drug_features
            More drug embeddings, for a model set up with ``drug_features`` (stored with the fine-tuning).
        seed
            Seed of the head's initial weights, split, shuffling and dropout (``None``: the model's ``seed``).
        enable_progress_bar
            Show a progress bar over the epochs (with the loss).
        accelerator, **trainer_kwargs
            Passed unchanged to Lightning's ``Trainer``, as in :meth:`train`.

        Returns
        -------
        ``self``; the loss of each epoch is in ``history_["finetune_loss"]`` (and
        ``history_["finetune_validation_loss"]``), the settings in ``finetune_``.

        Examples
        --------
        >>> model.finetune_ic50(bulk, drugs=["Trametinib", "Dasatinib"], pairs=train_pairs)  # doctest: +SKIP
        """
        check_anndata(bulk, "bulk")
        settings = resolve_preset(
            self.init_params_["preset"],
            FINETUNE_PRESETS,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            lr_schedule=lr_schedule,
            lr_final=lr_final,
            lr_epochs=lr_epochs,
            weight_decay=weight_decay,
            n_projection=n_projection,
            n_head_hidden=n_head_hidden,
            scaling=scaling,
            freeze=freeze,
            offset=offset,
            clip_features=clip_features,
            train_size=train_size,
            early_stopping=early_stopping,
            patience=patience,
        )
        offset, n_head_hidden = settings["offset"], settings["n_head_hidden"]
        n_head_hidden = int(n_head_hidden) if isinstance(n_head_hidden, int) else [int(n) for n in n_head_hidden]
        if offset not in OFFSETS:
            raise ValueError(f"`offset` must be one of {', '.join(map(repr, OFFSETS))}, got {offset!r}.")
        if settings["lr_schedule"] not in LR_SCHEDULES:
            raise ValueError(f"`lr_schedule` must be one of {LR_SCHEDULES}, got {settings['lr_schedule']!r}.")
        if isinstance(n_neighbours, bool) or not isinstance(n_neighbours, int) or n_neighbours < 1:
            raise ValueError(f"`n_neighbours` must be a positive integer, got {n_neighbours!r}.")
        if not np.isfinite(shrinkage) or shrinkage < 0:
            raise ValueError(f"`shrinkage` must be a non-negative number, got {shrinkage!r}.")
        response = check_response(bulk, key)
        new_embeddings = (
            None if drug_features is None else _data.embedding_table(drug_features, self._n_drug_features())
        )
        embeddings = self._embeddings(new_embeddings)
        chosen = drugs if drugs is not None else _pair_drugs(pairs, response, bulk, embeddings)
        smiles = self._drug_smiles(bulk, chosen, embeddings)
        lines, drug_idx, y = _training_pairs(response, pairs, list(smiles))
        _data.condition_value(bulk[:1], None, dose, "dose", "µM")
        _data.condition_value(bulk[:1], None, time, "time", "hours")
        expression = _data.aligned(bulk, layer, self.var_names_)
        line_codes, line_names = pd.factorize(lines)
        center, scale = _data.robust_fit(expression[bulk.obs_names.get_indexer(line_names)])
        seed = self.init_params_["seed"] if seed is None else seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            head = IC50Head(
                len(self.var_names_),
                settings["n_projection"],
                n_head_hidden,
                self.init_params_["dropout"],
                scaling=settings["scaling"],
            )
        head.register_buffer("bulk_center", torch.as_tensor(center))
        head.register_buffer("bulk_scale", torch.as_tensor(scale))
        features = _data.featurize(smiles, self.init_params_["n_bits"], embeddings)
        drug_means = pd.Series(y).groupby(drug_idx).mean()
        shift = np.zeros_like(y) if offset == "none" else drug_means.reindex(drug_idx).to_numpy()
        residual = y - shift
        head.register_buffer("target", torch.tensor([float(residual.mean()), float(residual.std()) or 1.0]))
        self.module.requires_grad_(not settings["freeze"])
        self.module.remove_biases()
        self.module.eval()

        x = (torch.as_tensor(expression[bulk.obs_names.get_indexer(line_names)]) - head.bulk_center) / head.bulk_scale
        target = (torch.as_tensor(residual, dtype=torch.float32) - head.target[0]) / head.target[1]
        history = run(
            IC50Loss(self.module, head, x, features, dose, time),
            _data.register_pairs(line_codes, drug_idx, target.numpy()),
            label="Fine-tuning CSG2A on ln IC50",
            max_epochs=settings["max_epochs"],
            batch_size=settings["batch_size"],
            lr=settings["lr"],
            weight_decay=settings["weight_decay"],
            train_size=settings["train_size"],
            early_stopping=settings["early_stopping"],
            patience=settings["patience"],
            lr_final=settings["lr_final"] if settings["lr_schedule"] == "cosine" else None,
            lr_epochs=settings["lr_epochs"],
            seed=seed,
            enable_progress_bar=enable_progress_bar,
            accelerator=accelerator,
            trainer_kwargs=trainer_kwargs,
        )
        self.module.requires_grad_(False)
        self.history_.pop("finetune_validation_loss", None)
        self.history_.update({f"finetune_{key.removeprefix('train_')}": values for key, values in history.items()})
        self.head = head
        clip = settings["clip_features"] and embeddings is None
        self.finetune_ = {
            **settings,
            "key": key,
            "drugs": smiles,
            "dose": float(dose),
            "time": float(time),
            "layer": layer,
            "n_projection": int(settings["n_projection"]),
            "n_head_hidden": n_head_hidden,
            "n_train_pairs": len(target),
            "drug_means": {name: float(drug_means[i]) for i, name in enumerate(smiles) if i in drug_means.index},
            "n_neighbours": int(n_neighbours),
            "shrinkage": float(shrinkage),
            "feature_range": (
                [features[:, :N_DESCRIPTORS].amin(0).tolist(), features[:, :N_DESCRIPTORS].amax(0).tolist()]
                if clip
                else None
            ),
            "drug_features": new_embeddings,
        }
        return self

    def predict_ic50(
        self,
        bulk: AnnData,
        drugs: Sequence[str] | Mapping[str, str] | None = None,
        *,
        layer: str | None = None,
        drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
        batch_size: int = 256,
    ) -> pd.DataFrame:
        """Predict ln IC50 of every cell line of ``bulk`` for every drug (after :meth:`finetune_ic50`).

        Parameters
        ----------
        bulk
            Cell lines (or tumours) x genes, with all the model's genes, on any scale: they are robust z-scored
            with the fine-tuning lines' stored median and MAD.
        drugs
            Names (the fine-tuning drugs, or ``bulk.uns["sctl_drugs"]["smiles"]``) or a mapping name -> SMILES
            (unseen drugs work). ``None``: the fine-tuning drugs.
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
        >>> model.predict_ic50(bulk, {"new drug": "CC(=O)NC1=CC=C(O)C=C1"})  # doctest: +SKIP
        """
        if self.head is None or self.finetune_ is None:
            raise RuntimeError(
                "The model is not fine-tuned on a response table yet: call `model.finetune_ic50(bulk, ...)`."
            )
        check_anndata(bulk, "bulk")
        embeddings = self._embeddings(drug_features)
        smiles = self._drug_smiles(bulk, list(self.finetune_["drugs"]) if drugs is None else drugs, embeddings)
        layer = self.finetune_["layer"] if layer is None else layer
        head = self.head
        x = (torch.as_tensor(_data.aligned(bulk, layer, self.var_names_)) - head.bulk_center) / head.bulk_scale
        features = _data.featurize(smiles, self.init_params_["n_bits"], embeddings)
        feature_range = self.finetune_.get("feature_range")  # absent in models saved before it: no clipping
        if feature_range is not None:
            low, high = (torch.tensor(bound, dtype=features.dtype) for bound in feature_range)
            features[:, :N_DESCRIPTORS] = torch.minimum(torch.maximum(features[:, :N_DESCRIPTORS], low), high)
        offsets = self._drug_offsets(smiles, features, embeddings)
        head.eval()
        out = np.zeros((bulk.n_obs, len(smiles)), dtype=np.float64)
        with torch.no_grad():
            for j in range(len(smiles)):
                for start in range(0, bulk.n_obs, batch_size):
                    chunk = x[start : start + batch_size]
                    n = len(chunk)
                    pred = ic50_forward(
                        self.module, head, chunk, features[j].expand(n, -1),
                        torch.full((n,), self.finetune_["dose"]), torch.full((n,), self.finetune_["time"]),
                    )  # fmt: skip
                    out[start : start + n, j] = (pred * head.target[1] + head.target[0]).numpy() + offsets[j]
        return pd.DataFrame(out, index=bulk.obs_names, columns=pd.Index(list(smiles), name="drug"))

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

        The paper's zero-shot analysis (appendix C.2): with the pretrained network only, sensitive lines move
        further from their basal profile than resistant ones.

        Parameters
        ----------
        adata
            Cell lines (or samples) x genes with all the model's genes.
        drugs
            Names (SMILES from the setup, the fine-tuning drugs or ``adata.uns["sctl_drugs"]``) or a mapping
            name -> SMILES.
        dose, time
            The condition (µM, hours); both required (the paper uses 10 µM and 72 h).
        layer
            Layer with the expression (``None``: ``X``).
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
        features = _data.featurize(smiles, self.init_params_["n_bits"], embeddings)
        n = len(basal)
        out = np.zeros((n, len(smiles)))
        with torch.no_grad():
            for j in range(len(smiles)):
                pred = self.module(
                    basal, features[j].expand(n, -1), torch.full((n,), float(dose)), torch.full((n,), float(time))
                )
                out[:, j] = torch.linalg.vector_norm(pred["predicted"] - basal, dim=1).numpy()
        return pd.DataFrame(out, index=adata.obs_names, columns=pd.Index(list(smiles), name="drug"))

    # ------------------------------------------------------------------------------------------- save / load
    def save(self, dir_path: str | Path, *, overwrite: bool = False) -> None:
        """Save the weights (``torch.save`` of tensors) and the settings (JSON) into ``dir_path``.

        The settings also record the versions of sctl, scvi-tools and torch, checked by :meth:`load`.

        Examples
        --------
        >>> model.save("csg2a_model", overwrite=True)  # doctest: +SKIP
        """
        state = {"module": self.module.state_dict()}
        if self.head is not None:
            state["head"] = self.head.state_dict()
        meta = {
            "init_params": self.init_params_,
            "var_names": list(self.var_names_),
            "setup": self.setup_,
            "is_trained": self.is_trained_,
            "finetune": self.finetune_,
            "history": self.history_,
            "train_params": self.train_params_,
        }
        save_model(dir_path, type(self).__name__, state, meta, overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData | None = None) -> Self:
        """Load a model saved by :meth:`save`; the weights are read with ``torch.load(weights_only=True)``.

        A directory saved by another class, in a newer file format, or with missing or malformed files is refused;
        other versions of sctl, scvi-tools or torch than the saving ones give a :class:`UserWarning`.

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata
            Optional default data for :meth:`predict` (and further training).

        Examples
        --------
        >>> model = CSG2A.load("csg2a_model")  # doctest: +SKIP
        """
        required = ("init_params", "var_names", "setup", "is_trained", "finetune", "history")
        meta, state = load_model(dir_path, cls.__name__, required=required)
        if "module" not in state or (meta["finetune"] is not None and "head" not in state):
            raise ValueError(
                f"The weights in {dir_path} lack the {'head' if 'module' in state else 'network'} of the saved "
                f"{cls.__name__}; the save is incomplete. Save the model again."
            )
        model = cls.__new__(cls)
        model._build(pd.Index(meta["var_names"]), meta["setup"], meta["init_params"], None)
        load_state(model.module, state["module"], dir_path, f"saved {cls.__name__}")
        model.is_trained_, model.finetune_, model.history_ = meta["is_trained"], meta["finetune"], meta["history"]
        model.train_params_ = meta.get("train_params")
        if model.finetune_ is not None:
            n = len(model.var_names_)
            settings = model.finetune_
            head = IC50Head(
                n,
                settings["n_projection"],
                settings["n_head_hidden"],
                meta["init_params"]["dropout"],
                scaling=settings.get("scaling", "gene"),  # models saved before the option: per gene
            )
            for name in ("bulk_center", "bulk_scale"):
                head.register_buffer(name, torch.zeros(n))
            head.register_buffer("target", torch.zeros(2))
            load_state(head, state["head"], dir_path, f"IC50 head of the saved {cls.__name__}")
            model.head = head
        model.adata = adata
        return model

    # ---------------------------------------------------------------------------------------------- helpers
    def _data_or_training(self, adata: AnnData | None) -> AnnData:
        if adata is None:
            if self.adata is None:
                raise ValueError("Pass `adata=`: this loaded model holds no data.")
            return self.adata
        return check_anndata(adata)

    def _profile_inputs(
        self,
        adata: AnnData,
        smiles: _data.SmilesSpec,
        dose: Any,
        time: Any,
        basal_layer: str | None,
        embeddings: dict[str, list[float]] | None,
    ) -> dict[str, torch.Tensor]:
        setup = self.setup_
        layer = setup["basal_layer"] if basal_layer is None else (None if basal_layer == "X" else basal_layer)
        labels, values = _data.obs_smiles(adata, setup, smiles)
        features, codes = _data.unique_features(labels, values, self.init_params_["n_bits"], embeddings)
        return {
            "basal": torch.as_tensor(_data.aligned(adata, layer, self.var_names_)),
            "features": features,
            "codes": codes,
            "dose": torch.as_tensor(
                _data.condition_value(adata, setup["dose_key"], dose, "dose", "µM"), dtype=torch.float32
            ),
            "time": torch.as_tensor(
                _data.condition_value(adata, setup["time_key"], time, "time", "hours"), dtype=torch.float32
            ),
        }

    def _n_drug_features(self) -> int:
        """Length of the drug feature vector: the embeddings' (``drug_features``), else RDKit's."""
        table = self.setup_.get("drug_features")
        return len(next(iter(table.values()))) if table else N_DESCRIPTORS + self.init_params_["n_bits"]

    def _embeddings(self, extra: Mapping[str, Any] | pd.DataFrame | None = None) -> dict[str, list[float]] | None:
        """The drug embeddings known to the model (setup, fine-tuning) and ``extra``; ``None`` for RDKit features."""
        table = self.setup_.get("drug_features")
        if table is None:
            if extra is not None:
                raise ValueError(
                    "This model embeds drugs from RDKit features of their SMILES; `drug_features` needs a model set "
                    "up with them (`CSG2A.setup_anndata(adata, drug_key=..., drug_features=...)`)."
                )
            return None
        more = {} if extra is None else _data.embedding_table(extra, self._n_drug_features())
        return {**table, **((self.finetune_ or {}).get("drug_features") or {}), **more}

    def _fit_feature_scaling(self, features: torch.Tensor) -> None:
        """Standardise the descriptors over the training drugs; Morgan bits and embeddings stay as they are."""
        if self.setup_.get("drug_features") is not None:
            return
        encoder = self.module.encoder
        descriptors = features[:, :N_DESCRIPTORS]
        encoder.feature_center.zero_()
        encoder.feature_scale.fill_(1.0)
        encoder.feature_center[:N_DESCRIPTORS] = descriptors.mean(0)
        std = descriptors.std(0, unbiased=False) if len(descriptors) > 1 else torch.zeros(N_DESCRIPTORS)
        encoder.feature_scale[:N_DESCRIPTORS] = torch.where(std > 0, std, descriptors.abs().mean(0).clamp_min(1.0))

    def _drug_offsets(
        self, smiles: dict[str, str], features: torch.Tensor, embeddings: dict[str, list[float]] | None
    ) -> np.ndarray:
        """The ln IC50 offset of each drug: its fine-tuning mean, or an estimate from the fine-tuning drugs.

        A drug is known when its name and SMILES are those of a fine-tuning drug with training pairs. Otherwise
        ``offset="mean"`` gives the mean of the known drugs' means ``m``; ``offset="neighbours"`` gives
        ``(sum_k s_k m_k + shrinkage * m) / (sum_k s_k + shrinkage)`` over the ``n_neighbours`` known drugs ``k``
        of highest Tanimoto similarity ``s_k`` of the Morgan fingerprints (with embeddings: their cosine similarity,
        negative values set to 0). ``offset="none"`` (and models saved before offsets): zeros.
        """
        settings = self.finetune_ or {}
        mode, means = settings.get("offset", "none"), settings.get("drug_means") or {}
        if mode == "none" or not means:
            return np.zeros(len(smiles))
        trained = settings["drugs"]
        names = list(means)
        values = np.array([means[name] for name in names])
        overall = float(values.mean())
        known = [name in means and trained.get(name) == value for name, value in smiles.items()]
        out = np.array([means[name] if hit else overall for name, hit in zip(smiles, known, strict=True)])
        unseen = [j for j, hit in enumerate(known) if not hit]
        if mode == "neighbours" and unseen:
            reference = _data.featurize({n: trained[n] for n in names}, self.init_params_["n_bits"], embeddings).numpy()
            if embeddings is None:
                similarity = tanimoto(features[unseen, N_DESCRIPTORS:].numpy(), reference[:, N_DESCRIPTORS:])
            else:
                similarity = np.clip(_cosine(features[unseen].numpy(), reference), 0.0, 1.0)
            out[unseen] = neighbour_mean(similarity, values, overall, settings["n_neighbours"], settings["shrinkage"])
        return out

    def _to_z(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.module.input_center) / self.module.input_scale

    def _from_z(self, values: torch.Tensor) -> torch.Tensor:
        return values * self.module.input_scale + self.module.input_center

    def _basal_matrix(self, adata_or_basal: AnnData | pd.Series | np.ndarray, layer: str | None) -> np.ndarray:
        if isinstance(adata_or_basal, AnnData):
            if layer is None and self.setup_["basal_layer"] in adata_or_basal.layers:
                layer = self.setup_["basal_layer"]
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

    def _drug_smiles(
        self,
        adata: AnnData,
        drugs: Sequence[str] | Mapping[str, str],
        embeddings: dict[str, list[float]] | None = None,
    ) -> dict[str, str]:
        """Drug name -> SMILES for the requested drugs, from a mapping or the known tables.

        A model embedding drugs by name (``embeddings``, by default the model's) maps a drug with an embedding to
        its own name.
        """
        embeddings = self._embeddings() if embeddings is None else embeddings
        if isinstance(drugs, Mapping | pd.Series):
            return {str(k): v for k, v in dict(drugs).items()}
        if isinstance(drugs, str):
            drugs = [drugs]
        known = {
            **(self.setup_.get("smiles") or {}),
            **(self.finetune_ or {}).get("drugs", {}),
            **_data.drug_table(adata),
            **{name: name for name in embeddings or {}},
        }
        missing = [d for d in drugs if d not in known]
        if missing:
            what = "embedding or SMILES" if embeddings is not None else "SMILES"
            raise KeyError(
                f"No {what} known for {preview(missing)}. Pass `drugs=` as a mapping drug name -> SMILES, add them "
                "to `adata.uns['sctl_drugs']['smiles']`"
                + (", or pass `drug_features={name: vector}`." if embeddings is not None else ".")
            )
        if not drugs:
            raise ValueError("`drugs` is empty: name at least one drug.")
        return {d: known[d] for d in drugs}


# ------------------------------------------------------------------------------------------------------ module
def _get_setup(adata: AnnData) -> dict[str, Any]:
    check_anndata(adata)
    setup = adata.uns.get(SETUP_KEY)
    if not isinstance(setup, dict):
        raise ValueError("`adata` is not set up for CSG2A: call `sctl.models.CSG2A.setup_anndata(adata, ...)` first.")
    return dict(setup)


def _pair_drugs(
    pairs: pd.DataFrame | None, response: pd.DataFrame, bulk: AnnData, embeddings: dict | None = None
) -> list[str]:
    if pairs is not None and "drug" in pairs.columns:
        return list(pd.unique(pairs["drug"].astype(str)))
    known = {**_data.drug_table(bulk), **(embeddings or {})}
    return [d for d in response.columns if d in known]


def _training_pairs(
    response: pd.DataFrame, pairs: pd.DataFrame | None, drugs: list[str]
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Cell line, drug position (in ``drugs``) and response of each tested training pair."""
    absent = [d for d in drugs if d not in response.columns]
    if absent:
        raise KeyError(
            f"Drug(s) {preview(absent)} are not in the response table (columns: {preview(response.columns)})."
        )
    if pairs is None:
        table = response[drugs].stack().rename("value").reset_index()
        table.columns = ["cell_line", "drug", "value"]
    else:
        missing = [c for c in ("cell_line", "drug") if c not in pairs.columns]
        if missing:
            raise KeyError(f"`pairs` lacks the column(s) {missing}; it needs 'cell_line' and 'drug'.")
        table = pairs.loc[pairs["drug"].astype(str).isin(drugs), ["cell_line", "drug"]].copy()
        unknown = pd.Index(table["cell_line"]).difference(response.index)
        if len(unknown):
            raise KeyError(f"`pairs` names cell lines absent from the response table: {preview(unknown, 5)}.")
        table["value"] = response.to_numpy(np.float64)[
            response.index.get_indexer(table["cell_line"]), response.columns.get_indexer(table["drug"])
        ]
    table = table.dropna(subset=["value"])
    if table.empty:
        raise ValueError("No tested (cell line, drug) pair to fine-tune on.")
    drug_idx = pd.Index(drugs).get_indexer(table["drug"].astype(str))
    return pd.Index(table["cell_line"].astype(str)), drug_idx, table["value"].to_numpy(np.float64)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T
