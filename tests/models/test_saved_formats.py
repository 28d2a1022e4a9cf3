"""Models saved by earlier sctl versions load with this one and predict the same numbers.

The fixtures under ``data/saved_v<N>/<Class>/`` were written by ``scripts/write_saved_fixtures.py`` (format ``N``):
the saved model, the observations to predict and the predictions made when it was saved.
"""

import json
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

from sctl.models import GRIP, ATSDPNet, PathwayTransfer, PerturbationEnsemble, SeqPerturb

DATA = Path(__file__).parent / "data"
CLASSES = {cls.__name__: cls for cls in (GRIP, SeqPerturb, PathwayTransfer, ATSDPNet, PerturbationEnsemble)}
FIXTURES = [(version, name) for version in ("saved_v1",) for name in CLASSES]


def _predict(model, inputs: ad.AnnData) -> np.ndarray:
    predicted = model.predict(inputs)
    return predicted.to_numpy() if isinstance(predicted, pd.DataFrame) else np.asarray(predicted)[:, None]


@pytest.mark.parametrize(("version", "name"), FIXTURES, ids=[f"{v}-{n}" for v, n in FIXTURES])
def test_saved_model_loads_and_predicts_the_same(version, name):
    folder = DATA / version / name
    meta = json.loads((folder / "model" / "model.json").read_text())
    assert (meta["class"], meta["format_version"]) == (name, int(version.removeprefix("saved_v")))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*was saved with", category=UserWarning)  # other sctl / torch
        model = CLASSES[name].load(folder / "model")
    expected = pd.read_csv(folder / "expected.csv", index_col=0)
    inputs = ad.read_h5ad(folder / "input.h5ad")
    predicted = _predict(model, inputs)
    assert predicted.shape == expected.shape
    np.testing.assert_allclose(predicted, expected.to_numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("version", "name"), FIXTURES, ids=[f"{v}-{n}" for v, n in FIXTURES])
def test_loaded_model_saves_the_same_files(version, name, tmp_path):
    """Saving a loaded model writes the settings and tensors it was loaded from: the layout is unchanged."""
    saved = DATA / version / name / "model"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*was saved with", category=UserWarning)
        CLASSES[name].load(saved).save(tmp_path / "again")
    for meta_file in saved.rglob("model.json"):
        again = tmp_path / "again" / meta_file.relative_to(saved)
        before, after = (json.loads(f.read_text()) for f in (meta_file, again))
        assert {**before, "versions": None, "setup": None} == {**after, "versions": None, "setup": None}
        # a load may migrate the names of setup arguments (renamed since), not their values
        assert sorted(map(json.dumps, before.get("setup", {}).values())) == sorted(
            map(json.dumps, after.get("setup", {}).values())
        )
        weights = [torch.load(f.with_name("model_state.pt"), weights_only=True) for f in (meta_file, again)]
        assert _flat(weights[0]).keys() == _flat(weights[1]).keys()
        for key, tensor in _flat(weights[0]).items():
            torch.testing.assert_close(_flat(weights[1])[key], tensor, rtol=0, atol=0)


def _flat(state: dict, prefix: str = "") -> dict:
    """A nested state dict as one dict, keys joined by dots."""
    flat = {}
    for key, value in state.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat
