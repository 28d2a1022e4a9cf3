"""Inputs of CSG²A read from AnnData: SMILES, doses, times, drug features, PPI prior, robust scaling, registration.

The training data are registered with scvi-tools: profiles for pretraining, the bulk expression and response table
for fine-tuning, and its (cell line, drug) pairs, which index the expression, so no profile is copied per pair.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi.data import AnnDataManager
from scvi.data.fields import LayerField, NumericalObsField

from sctl import pp
from sctl._constants import DRUGS_KEY
from sctl._validate import check_obs_key, check_var_names, get_matrix, preview, to_dense

PPI_WEIGHTS = ("binary", "raw", "zero")
SmilesSpec = str | Mapping[str, str] | Sequence[str] | pd.Series | None

# registry keys of the minibatches (scvi-tools' AnnDataManager fields)
X_KEY, BASAL_KEY, DRUG_KEY, DOSE_KEY, TIME_KEY = "X", "basal", "drug", "dose", "time"
LINE_KEY, TARGET_KEY = "cell_line", "target"
# numeric columns written into ``adata.obs`` by the setup (scvi-tools registers numbers)
OBS_COLUMNS = {DRUG_KEY: "_sctl_csg2a_drug", DOSE_KEY: "_sctl_csg2a_dose", TIME_KEY: "_sctl_csg2a_time"}


def featurize(smiles: Mapping[str, str], n_bits: int, embeddings: Mapping[str, Any] | None = None) -> torch.Tensor:
    """Feature rows of the named drugs, in mapping order: their embeddings, else RDKit features of their SMILES.

    With ``embeddings`` (drug name -> vector, a model set up with ``drug_features``) each drug is looked up by its
    value, then by its name; a drug with no embedding raises a :class:`KeyError` naming it. Otherwise each value is
    a SMILES: RDKit descriptors then Morgan bits; an invalid or missing SMILES raises a :class:`ValueError` naming
    the drug and the SMILES.
    """
    if embeddings is not None:
        rows, missing = [], []
        for name, value in smiles.items():
            vector = embeddings.get(str(value), embeddings.get(str(name)))
            if vector is None:
                missing.append(str(name))
            rows.append(vector)
        if missing:
            raise KeyError(
                f"No drug embedding for {preview(missing)}: this CSG2A model embeds drugs with `drug_features`. "
                "Pass `drug_features={name: vector}` (or a DataFrame drugs x dimensions) holding them."
            )
        return torch.as_tensor(np.asarray(rows, dtype=np.float32))
    try:
        table = pp.featurize_drugs(dict(smiles), kind="both", n_bits=n_bits, errors="raise")
    except ValueError as error:
        raise ValueError(f"CSG2A embeds drugs from their SMILES and needs a valid one for each. {error}") from None
    return torch.as_tensor(table.to_numpy(np.float32))


def drug_table(adata: AnnData) -> dict[str, str]:
    """Drug name -> SMILES from ``adata.uns["sctl_drugs"]["smiles"]`` (empty when there is none)."""
    table = adata.uns.get(DRUGS_KEY)
    if isinstance(table, pd.DataFrame) and "smiles" in table.columns:
        return {str(k): v for k, v in table["smiles"].dropna().items()}
    return {}


def obs_smiles(adata: AnnData, setup: dict[str, Any], smiles: SmilesSpec) -> tuple[np.ndarray, np.ndarray]:
    """Drug label and SMILES of every observation.

    ``smiles`` overrides the setup: one SMILES for all, a mapping drug name -> SMILES read through the setup's
    ``drug_key``, or one SMILES per observation.
    """
    if isinstance(smiles, str):
        values = np.repeat(smiles, adata.n_obs).astype(object)
        return values, values
    if smiles is None and setup.get("drug_features") is not None:  # embedded by name: the name identifies the drug
        names = check_obs_key(adata, setup["drug_key"]).astype(str).to_numpy(dtype=object)
        return names, names
    if smiles is None and setup.get("smiles_key"):
        values = check_obs_key(adata, setup["smiles_key"]).astype(object).to_numpy()
        return values, values
    if smiles is None or isinstance(smiles, Mapping | pd.Series):
        drug_key = setup.get("drug_key")
        if drug_key is None:
            raise ValueError(
                "Pass `smiles=` as one SMILES or one per observation: the model was set up with a SMILES column."
            )
        if smiles is None:  # the setup's table, then the drugs table of this AnnData
            mapping = {**drug_table(adata), **dict(setup.get("smiles") or {})}
        else:
            mapping = {str(k): v for k, v in dict(smiles).items()}
        names = check_obs_key(adata, drug_key, hint="Or pass `smiles=` with one SMILES per observation.").astype(str)
        missing = sorted(set(names) - set(mapping))
        if missing:
            raise KeyError(
                f"No SMILES for {len(missing)} drug(s) of `adata.obs[{drug_key!r}]`: {preview(missing)}. Add them to "
                "the `smiles` mapping (drug name -> SMILES) or drop those profiles first."
            )
        return names.to_numpy(dtype=object), names.map(mapping).to_numpy(dtype=object)
    values = np.asarray(list(smiles), dtype=object)
    if values.shape != (adata.n_obs,):
        raise ValueError(f"`smiles=` must be one SMILES, a mapping, or one per observation ({adata.n_obs}).")
    return values, values


def condition_value(adata: AnnData, key: str | None, override: Any, what: str, unit: str) -> np.ndarray:
    """Numeric dose or time of every observation: ``override`` (scalar or per observation) or ``adata.obs[key]``."""
    if override is None:
        if key is None or key not in adata.obs.columns:
            raise KeyError(
                f"CSG2A needs the {what} ({unit}) of every profile: pass `{what}=` (one value or one per observation)"
                + (f" or add the column `adata.obs[{key!r}]`." if key else ".")
            )
        values = pd.to_numeric(adata.obs[key], errors="coerce").to_numpy(dtype=np.float64)
        where = f"`adata.obs[{key!r}]`"
    else:
        try:
            values = np.broadcast_to(np.asarray(override, dtype=np.float64), (adata.n_obs,)).copy()
        except ValueError:
            raise ValueError(f"`{what}=` must be one value or one per observation ({adata.n_obs}).") from None
        where = f"`{what}=`"
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"{where} holds {int(bad.sum())} missing, non-numeric or negative {what} value(s); CSG2A needs a {what} "
            f"in {unit} for every profile."
        )
    return values


def unique_features(
    labels: np.ndarray, smiles: np.ndarray, n_bits: int, embeddings: Mapping[str, Any] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of each distinct SMILES and the row of each observation in them."""
    codes, _ = pd.factorize(pd.Series(smiles, dtype=object).astype(str))
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    named: dict[str, str] = {}
    for i in first:  # name each SMILES after its first drug label, for the error messages
        name = str(labels[i]) if str(labels[i]) not in named else f"{labels[i]} #{len(named)}"
        named[name] = smiles[i]
    features = featurize(named, n_bits, embeddings)
    return features, torch.as_tensor(codes, dtype=torch.long)


def aligned(adata: AnnData, layer: str | None, var_names: pd.Index, what: str = "CSG2A") -> np.ndarray:
    """Dense float32 values of ``layer`` in the model's gene order."""
    check_var_names(adata, var_names, what)
    order = adata.var_names.get_indexer(var_names)
    return to_dense(get_matrix(adata, layer), np.float32)[:, order]


def robust_fit(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene median and 1.4826 * MAD (robust z-score parameters) through :func:`sctl.pp.standardize`."""
    fitted = pp.standardize(AnnData(values.astype(np.float32)), method="robust", copy=True)
    return fitted.var["sctl_center"].to_numpy(np.float32), fitted.var["sctl_scale"].to_numpy(np.float32)


def embedding_table(drug_features: Any, n_dims: int | None = None) -> dict[str, list[float]]:
    """Drug name -> embedding (list of floats) from a mapping or a DataFrame drugs x dimensions, checked.

    Every vector must be finite and of one length (``n_dims`` when given: the model's).
    """
    if isinstance(drug_features, pd.DataFrame):
        items = {str(name): row for name, row in zip(drug_features.index, drug_features.to_numpy(), strict=True)}
    elif isinstance(drug_features, Mapping):
        items = {str(name): vector for name, vector in drug_features.items()}
    else:
        raise TypeError(
            "`drug_features` must map drug name -> vector or be a DataFrame drugs x dimensions, got "
            f"{type(drug_features).__name__}."
        )
    table = {}
    for name, vector in items.items():
        values = np.asarray(vector, dtype=np.float64).ravel()
        if not np.isfinite(values).all():
            raise ValueError(f"The embedding of drug {name!r} in `drug_features` holds missing or infinite values.")
        table[name] = values.tolist()
    lengths = {len(v) for v in table.values()}
    if not table or len(lengths) != 1 or (n_dims is not None and lengths != {n_dims}):
        expected = f"{n_dims}" if n_dims is not None else "one length"
        raise ValueError(
            f"`drug_features` must hold at least one vector, all of {expected} values; got lengths {sorted(lengths)}."
        )
    return table


def adjacency(
    ppi: pd.DataFrame | np.ndarray | sparse.spmatrix | None, var_names: pd.Index, weights: str = "binary"
) -> sparse.csr_matrix | None:
    """Sparse PPI prior aligned to ``var_names`` from an edge list or a ready genes x genes matrix.

    ``weights="binary"``: every non-zero entry becomes 1 (the paper's adjacency); ``"raw"``: the weights as given,
    with a warning when they exceed 1 (they then outweigh attention scores near 1); ``"zero"``: as ``"binary"``
    (the edges still restrict ``attention="ppi"``; the network leaves the prior term out).
    """
    if weights not in PPI_WEIGHTS:
        raise ValueError(f"`ppi_weights` must be one of {PPI_WEIGHTS}, got {weights!r}.")
    if ppi is None:
        return None
    if isinstance(ppi, pd.DataFrame):
        matrix = pp.ppi_adjacency(ppi, var_names)
    else:
        matrix = ppi
        if tuple(matrix.shape) != (len(var_names), len(var_names)):
            raise ValueError(
                f"`ppi` as a matrix must be genes x genes ({len(var_names)} x {len(var_names)}), got "
                f"{tuple(matrix.shape)}. Build it with `sctl.pp.ppi_adjacency(edges, adata.var_names)`."
            )
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu().to_dense().numpy()
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    matrix.eliminate_zeros()
    if weights == "raw" and matrix.nnz and float(np.abs(matrix.data).max()) > 1:
        warnings.warn(
            f"The PPI prior holds weights up to {float(np.abs(matrix.data).max()):g}, added to attention scores near "
            "1: the first layer becomes a fixed diffusion over the network. Use `ppi_weights='binary'` (the paper's "
            "0/1 adjacency) or rescale the weights to [0, 1].",
            UserWarning,
            stacklevel=3,
        )
    elif weights != "raw":
        matrix.data[:] = 1.0
    return matrix


def resolve_setup(
    adata: AnnData,
    basal_layer: str,
    layer: str | None,
    smiles_key: str | None,
    drug_key: str | None,
    smiles: Mapping[str, str] | pd.Series | None,
    dose_key: str,
    time_key: str,
    drug_features: Mapping[str, Any] | pd.DataFrame | None,
) -> tuple[dict[str, Any], np.ndarray]:
    """The setup of perturbation profiles (SMILES mapping and embeddings resolved) and each profile's drug row.

    Checks the layers and that every profile's drug has a valid SMILES (or an embedding); the dose and time are
    checked when registered (:func:`register_profiles`).
    """
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
        embeddings = embedding_table(drug_features)
    mapping = None
    if drug_key is not None and embeddings is not None:
        mapping = {str(k): v for k, v in dict(smiles).items()} if smiles is not None else {}
    elif drug_key is not None:
        mapping = drug_table(adata) if smiles is None else {str(k): v for k, v in dict(smiles).items()}
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
    labels, values = obs_smiles(adata, setup, None)
    _, codes = unique_features(labels, values, 8, embeddings)  # checks every drug, naming the bad ones
    if mapping is not None and smiles is None:  # a whole table from `uns`: keep these profiles' drugs only
        used = set(pd.unique(labels.astype(str)))
        setup["smiles"] = {k: v for k, v in mapping.items() if k in used}
    return setup, codes.numpy()


def setup_method_args(model_name: str, setup: dict[str, Any]) -> dict[str, Any]:
    """What scvi-tools records of a ``setup_anndata`` call: the model, the method and its (resolved) arguments."""
    return {"model_name": model_name, "setup_method_name": "setup_anndata", "setup_args": setup}


def register_profiles(adata: AnnData, setup: dict[str, Any], codes: np.ndarray, **kwargs: Any) -> AnnDataManager:
    """Register perturbation profiles with scvi-tools: perturbed and basal layers, drug row, dose and time.

    ``codes`` is each profile's row in the drug feature table; it is written with the validated dose and time into
    the numeric columns :data:`OBS_COLUMNS` of ``adata.obs``, which the manager registers. ``kwargs`` go to
    :meth:`~scvi.data.AnnDataManager.register_fields` (e.g. the ``source_registry`` of a saved model).
    """
    adata.obs[OBS_COLUMNS[DRUG_KEY]] = np.asarray(codes, dtype=np.float32)
    for key, what, unit in ((DOSE_KEY, "dose", "µM"), (TIME_KEY, "time", "hours")):
        values = condition_value(adata, setup[f"{key}_key"], None, what, unit)
        adata.obs[OBS_COLUMNS[key]] = values.astype(np.float32)
    fields = [
        LayerField(X_KEY, setup["layer"], is_count_data=False),
        LayerField(BASAL_KEY, setup["basal_layer"], is_count_data=False),
        *(NumericalObsField(key, column) for key, column in OBS_COLUMNS.items()),
    ]
    manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args("CSG2A", setup))
    manager.register_fields(adata, **kwargs)
    return manager


def register_bulk(adata: AnnData, setup: dict[str, Any], **kwargs: Any) -> AnnDataManager:
    """Register the expression of bulk samples (``setup["layer"]``); the setup names their response table.

    The response table is read as a whole, checked, by the model: the training pairs are registered on their own
    (:func:`register_pairs`).
    """
    fields = [LayerField(X_KEY, setup["layer"], is_count_data=False)]
    manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args("CSG2AIC50", setup))
    manager.register_fields(adata, **kwargs)
    return manager


def register_pairs(lines: np.ndarray, drugs: np.ndarray, target: np.ndarray) -> AnnDataManager:
    """Register (cell line, drug) pairs with scvi-tools: one row per pair, no expression copied.

    The row of each pair's cell line and drug (in the fine-tuning tables) and its standardised response are the
    numeric columns of an AnnData without genes.
    """
    obs = pd.DataFrame(
        {LINE_KEY: lines, DRUG_KEY: drugs, TARGET_KEY: target}, index=pd.RangeIndex(len(target)).astype(str)
    ).astype(np.float32)
    manager = AnnDataManager(fields=[NumericalObsField(key, key) for key in obs.columns])
    manager.register_fields(AnnData(obs=obs))
    return manager


def placeholder(var_names: Sequence[str], setup: dict[str, Any]) -> AnnData:
    """One empty observation with the saved genes and the setup's layers and columns.

    Registering it gives a loaded model the registry of its training data without that data.
    """
    adata = AnnData(np.zeros((1, len(var_names)), dtype=np.float32))
    adata.var_names = pd.Index(list(var_names), dtype=str)
    for name in (setup.get("layer"), setup.get("basal_layer")):
        if name is not None:
            adata.layers[name] = adata.X.copy()
    for key in (setup.get("dose_key"), setup.get("time_key")):
        if key is not None:
            adata.obs[key] = 0.0
    return adata
