"""Numeric features of drugs from their SMILES: Morgan fingerprints and RDKit descriptors."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import DRUGS_KEY

KINDS = ("morgan", "descriptors", "both")
ERRORS = ("raise", "drop")


def _descriptor_functions() -> dict[str, Callable]:
    from rdkit.Chem import Descriptors

    return {
        "MolWt": Descriptors.MolWt,
        "LogP": Descriptors.MolLogP,
        "TPSA": Descriptors.TPSA,
        "HBD": Descriptors.NumHDonors,
        "HBA": Descriptors.NumHAcceptors,
        "RotatableBonds": Descriptors.NumRotatableBonds,
        "Rings": Descriptors.RingCount,
        "AromaticRings": Descriptors.NumAromaticRings,
        "HeavyAtoms": Descriptors.HeavyAtomCount,
        "Heteroatoms": Descriptors.NumHeteroatoms,
        "FractionCSP3": Descriptors.FractionCSP3,
        "MolMR": Descriptors.MolMR,
        "QED": Descriptors.qed,
    }


def featurize_drugs(
    drugs: Mapping[str, str] | pd.Series | AnnData,
    *,
    kind: str = "morgan",
    radius: int = 2,
    n_bits: int = 1024,
    errors: str = "raise",
) -> pd.DataFrame:
    """Compute numeric features of drugs from their SMILES with RDKit.

    ``"morgan"`` gives Morgan (ECFP-like) bit fingerprints of ``radius`` and ``n_bits`` bits, columns
    ``morgan_0`` ... ``morgan_{n_bits-1}``. ``"descriptors"`` gives a fixed list of RDKit descriptors:
    ``MolWt``, ``LogP`` (Crippen), ``TPSA``, ``HBD``, ``HBA``, ``RotatableBonds``, ``Rings``,
    ``AromaticRings``, ``HeavyAtoms``, ``Heteroatoms``, ``FractionCSP3``, ``MolMR`` and ``QED``. ``"both"``:
    descriptors, then bits.

    Parameters
    ----------
    drugs
        Drug name -> SMILES, as a mapping or a :class:`pandas.Series`; or a bulk AnnData whose
        ``.uns["sctl_drugs"]["smiles"]`` is read.
    kind
        ``"morgan"``, ``"descriptors"`` or ``"both"``.
    radius
        Radius of the Morgan fingerprint (2 is ECFP4).
    n_bits
        Length of the Morgan fingerprint.
    errors
        What to do with missing or unparsable SMILES: ``"raise"`` a :class:`ValueError` naming every such
        drug, or ``"drop"`` them with a warning naming them.

    Returns
    -------
    A ``float32`` DataFrame, one row per drug (in input order, index named ``"drug"``), one column per
    feature.

    Examples
    --------
    >>> import sctl
    >>> features = sctl.pp.featurize_drugs({"aspirin": "CC(=O)OC1=CC=CC=C1C(=O)O"}, kind="descriptors")
    >>> round(float(features.loc["aspirin", "MolWt"]), 2)
    180.16
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown feature kind {kind!r}; choose one of {', '.join(map(repr, KINDS))}.")
    if errors not in ERRORS:
        raise ValueError(f"`errors` must be one of {', '.join(map(repr, ERRORS))}, got {errors!r}.")
    for name, value, low in (("radius", radius, 0), ("n_bits", n_bits, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"`{name}` must be an integer of at least {low}, got {value!r}.")
    smiles = _smiles_table(drugs)
    mols, bad = _parse(smiles)
    if bad:
        listing = "; ".join(f"{name!r}: {value!r}" for name, value in bad.items())
        if errors == "raise":
            raise ValueError(
                f"{len(bad)} of {len(smiles)} drugs have a missing or invalid SMILES: {listing}. Correct "
                "them, drop them (e.g. `smiles.dropna()`), or pass `errors='drop'`."
            )
        warnings.warn(
            f"Dropped {len(bad)} drugs with a missing or invalid SMILES: {listing}.",
            UserWarning,
            stacklevel=2,
        )
    if not mols:
        raise ValueError("No drug is left to featurize: every SMILES is missing or invalid.")

    blocks = []
    if kind in ("descriptors", "both"):
        blocks.append(_descriptors(mols))
    if kind in ("morgan", "both"):
        blocks.append(_morgan(mols, radius, n_bits))
    features = pd.concat(blocks, axis=1).astype(np.float32)
    features.index.name = "drug"
    return features


def _smiles_table(drugs: Mapping[str, str] | pd.Series | AnnData) -> pd.Series:
    if isinstance(drugs, AnnData):
        table = drugs.uns.get(DRUGS_KEY)
        if not isinstance(table, pd.DataFrame) or "smiles" not in table.columns:
            raise KeyError(
                "The AnnData has no drug table with SMILES: expected a DataFrame "
                f"`adata.uns[{DRUGS_KEY!r}]` with a 'smiles' column, indexed by drug name. Pass a mapping "
                "drug name -> SMILES instead."
            )
        smiles = table["smiles"]
    elif isinstance(drugs, pd.Series):
        smiles = drugs
    elif isinstance(drugs, Mapping):
        smiles = pd.Series(dict(drugs), dtype=object)
    else:
        raise TypeError(
            f"`drugs` must be a mapping or Series drug name -> SMILES, or a bulk AnnData, got {type(drugs).__name__}."
        )
    if not smiles.index.is_unique:
        duplicated = smiles.index[smiles.index.duplicated()].unique()
        raise ValueError(f"Drug names must be unique; duplicated: {', '.join(map(repr, duplicated))}.")
    return smiles


def _parse(smiles: pd.Series) -> tuple[dict[str, object], dict[str, object]]:
    from rdkit import Chem, rdBase

    mols, bad = {}, {}
    with rdBase.BlockLogs():  # RDKit's own parse errors go to stderr; ours name the drug instead
        for name, value in smiles.items():
            mol = Chem.MolFromSmiles(value) if isinstance(value, str) and value.strip() else None
            if mol is None or mol.GetNumAtoms() == 0:
                bad[name] = None if pd.isna(value) else value
            else:
                mols[name] = mol
    return mols, bad


def _descriptors(mols: dict[str, object]) -> pd.DataFrame:
    functions = _descriptor_functions()
    rows = {name: [float(function(mol)) for function in functions.values()] for name, mol in mols.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(functions))


def _morgan(mols: dict[str, object], radius: int, n_bits: int) -> pd.DataFrame:
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=int(radius), fpSize=int(n_bits))
    bits = np.vstack([generator.GetFingerprintAsNumPy(mol) for mol in mols.values()])
    return pd.DataFrame(bits, index=list(mols), columns=[f"morgan_{i}" for i in range(n_bits)])
