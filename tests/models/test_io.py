"""One pickle-free save / load for every model: round trips, recorded versions, and what a load refuses."""

import inspect
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

import sctl
from sctl.models import (
    CSG2A,
    CSG2AIC50,
    GRIP,
    ATSDPNet,
    MultiDrugTransfer,
    PathwayTransfer,
    PerturbationEnsemble,
    SeqPerturb,
    transfer_data,
)
from sctl.models._io import FORMAT_VERSION, SaveLoadMixin, library_versions, load_model, load_state, save_model

from ._transfer_data import DRUG

FAST = {"enable_progress_bar": False}
FAMILIES = ("PathwayTransfer", "ATSDPNet", "GRIP", "SeqPerturb", "CSG2A", "CSG2AIC50")
OTHER = {"PathwayTransfer": ATSDPNet, "ATSDPNet": PathwayTransfer, "GRIP": SeqPerturb, "SeqPerturb": GRIP}
OTHER["CSG2A"] = OTHER["CSG2AIC50"] = GRIP


class Payload:
    """Unpickling this object would create ``marker``: proof that a load ran code from the file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _transfer(cls):
    bulk = sctl.datasets.gdsc()
    cells = sctl.datasets.tumor(DRUG, n_cells=60, seed=0)
    bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])]
    bulk = bulk[:80, bulk.var["landmark"].to_numpy()].copy()
    data = transfer_data(bulk, cells, DRUG)
    if cls is ATSDPNet:
        cls.setup_anndata(data, cluster_key=False)
        model = cls(data, n_latent=8, encoder_dims=(16,), predictor_dims=(8,), n_heads=2)
    else:
        cls.setup_anndata(data)
        model = cls(data, n_latent=8, n_hidden=16)
    model.train(max_epochs=1, **FAST)
    return model, cells, lambda m: m.predict(cells)


def _perturbation(cls):
    plate = sctl.datasets.lincs()[:, :30].copy()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    if cls is GRIP:
        GRIP.setup_anndata(treated, dose_key="dose")
        model = GRIP(treated, n_hidden=8, n_embed=4, n_disc_hidden=8)
        model.train(max_epochs=1)
    else:
        SeqPerturb.setup_anndata(treated, drug_id_key="pert_id", dose_key="dose")
        model = SeqPerturb(treated, encoder="gru")
        model.train(max_epochs=1, batch_size=64)
    return model, treated, lambda m: m.predict(treated).to_numpy()


def _csg2a(fine_tuned: bool = False):
    lincs, bulk = sctl.datasets.lincs(), sctl.datasets.gdsc()
    sctl.pp.match_controls(lincs, control="DMSO")
    table = bulk.uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(table["lincs_name"], table["smiles"], strict=True))
    genes = bulk.var_names[bulk.var["landmark"].to_numpy()].intersection(lincs.var_names)[:20]
    plate = lincs[lincs.obs["drug"].astype(str).isin(smiles), genes].copy()
    CSG2A.setup_anndata(plate, drug_key="drug", smiles=smiles)
    model = CSG2A(plate, n_hidden=4, n_condition_hidden=8).train(max_epochs=1, **FAST)
    if not fine_tuned:
        return model, plate, lambda m: m.predict(plate).to_numpy()
    bulk = bulk[:30, genes].copy()
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][["Trametinib", "Dasatinib"]]
    ic50 = CSG2AIC50.from_pretrained(model, bulk, n_projection=8, n_head_hidden=4).train(max_epochs=1, **FAST)
    return ic50, bulk, lambda m: m.predict(bulk, {**m.fitted_["drugs"], "aspirin": "CC(=O)OC1=CC=CC=C1C(=O)O"})


@pytest.fixture(scope="module", params=FAMILIES)
def trained(request, tmp_path_factory):
    """A tiny trained model of each family, saved once: (class, model, predict function, saved directory)."""
    name = request.param
    if name in ("PathwayTransfer", "ATSDPNet"):
        cls = PathwayTransfer if name == "PathwayTransfer" else ATSDPNet
        model, _, predict = _transfer(cls)
    elif name in ("GRIP", "SeqPerturb"):
        cls = GRIP if name == "GRIP" else SeqPerturb
        model, _, predict = _perturbation(cls)
    else:
        cls = CSG2A if name == "CSG2A" else CSG2AIC50
        model, _, predict = _csg2a(fine_tuned=cls is CSG2AIC50)
    path = tmp_path_factory.mktemp(name) / "model"
    model.save(path)
    return cls, model, predict, path


def _copy(saved: Path, to: Path, **changes) -> Path:
    """A copy of a saved model whose ``model.json`` has ``changes`` applied (nested dicts merged)."""
    to.mkdir()
    (to / "model_state.pt").write_bytes((saved / "model_state.pt").read_bytes())
    meta = json.loads((saved / "model.json").read_text())
    for key, value in changes.items():
        meta[key] = {**meta[key], **value} if isinstance(value, dict) else value
    (to / "model.json").write_text(json.dumps(meta))
    return to


def test_round_trip_identical_and_versions_recorded(trained):
    cls, model, predict, path = trained
    meta = json.loads((path / "model.json").read_text())
    assert meta["class"] == cls.__name__
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["versions"] == library_versions()
    assert set(meta["versions"]) == {"sctl", "scvi-tools", "torch"}
    assert meta["var_names"] == list(model.var_names_ if cls in (CSG2A, CSG2AIC50) else model.var_names)
    torch.load(path / "model_state.pt", weights_only=True)  # tensors only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = cls.load(path)
    assert not [w for w in caught if "versions" in str(w.message) or "saved with" in str(w.message)]  # same versions
    np.testing.assert_array_equal(predict(loaded), predict(model))
    assert loaded.init_params_ == model.init_params_ == meta["init"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path)


def test_other_versions_warn_and_still_load(trained, tmp_path):
    cls, model, predict, path = trained
    old = _copy(path, tmp_path / "old", versions={"sctl": "0.0.1", "torch": "1.0.0"})
    now = library_versions()
    expected = f"sctl 0.0.1 (now {now['sctl']}), torch 1.0.0 (now {now['torch']})"
    with pytest.warns(UserWarning, match=re.escape(expected)):
        loaded = cls.load(old)
    np.testing.assert_array_equal(predict(loaded), predict(model))


def test_newer_format_and_other_class_are_refused(trained, tmp_path):
    cls, _, _, path = trained
    newer = _copy(path, tmp_path / "newer", format_version=FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match=rf"file format {FORMAT_VERSION + 1} .*reads formats up to .*Upgrade sctl"):
        cls.load(newer)
    other = OTHER[cls.__name__]
    with pytest.raises(TypeError, match=rf"holds a saved {cls.__name__}, not a {other.__name__}"):
        other.load(path)


def test_pickled_object_in_weights_is_refused_unrun(trained, tmp_path):
    cls, _, _, path = trained
    evil = _copy(path, tmp_path / "evil")
    marker = tmp_path / "code_ran"
    state = torch.load(path / "model_state.pt", weights_only=True)
    torch.save({**state, "payload": Payload(marker)}, evil / "model_state.pt")
    with pytest.raises(ValueError, match="not a plain tensor file: it holds pickled objects other than tensors"):
        cls.load(evil)
    assert not marker.exists()


def test_missing_or_malformed_files_are_refused(trained, tmp_path):
    cls, _, _, path = trained
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        cls.load(tmp_path / "nothing")
    partial = _copy(path, tmp_path / "partial")
    (partial / "model_state.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"model_state\.pt missing"):
        cls.load(partial)
    broken = _copy(path, tmp_path / "broken")
    (broken / "model.json").write_text('{"class": "' + cls.__name__ + '", "init": ')
    with pytest.raises(ValueError, match="is not valid JSON"):
        cls.load(broken)
    cut = _copy(path, tmp_path / "cut")
    data = (cut / "model_state.pt").read_bytes()
    (cut / "model_state.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"not a plain tensor file: .*truncated"):
        cls.load(cut)


# ---------------------------------------------------------------------------------------------------- the mixin
@pytest.mark.parametrize(
    "cls", [GRIP, SeqPerturb, PathwayTransfer, ATSDPNet, PerturbationEnsemble, CSG2A, CSG2AIC50, MultiDrugTransfer]
)
def test_every_model_saves_and_loads_through_the_mixin(cls):
    assert "save" not in cls.__dict__
    assert "load" not in cls.__dict__
    before_mixin = cls.__mro__[: cls.__mro__.index(SaveLoadMixin)]  # the model, its sctl bases (TransferModel)
    assert [klass.__name__ for klass in before_mixin if {"save", "load"} & vars(klass).keys()] == []
    assert cls.save is SaveLoadMixin.save
    assert cls.load.__func__ is SaveLoadMixin.load.__func__


def test_init_params_are_the_constructor_arguments_with_the_preset_values():
    plate = sctl.datasets.lincs()[:60, :10].copy()
    sctl.pp.match_controls(plate, control="DMSO")
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    GRIP.setup_anndata(treated)
    model = GRIP(treated, preset="paper", n_hidden=8, seed=3)
    assert list(model.init_params_) == [p for p in inspect.signature(GRIP).parameters if p != "adata"]
    assert (model.init_params_["n_hidden"], model.init_params_["seed"]) == (8, 3)  # the user's values
    assert model.init_params_["scaling"] == "separate"  # the paper preset's, not None
    with pytest.raises(NotFittedError, match="not trained yet"):  # a load would call it trained
        model.save("never_written")
    with pytest.raises(TypeError, match=r"has no setting\(s\) \['width'\]"):
        model._record_init_params({}, width=3)


class TwoStage(SaveLoadMixin):
    """A model of two parts trained one after the other, as CSG2A is: the hook contract on its own."""

    def __init__(self, n_genes: int = 3, seed: int = 0):
        self._record_init_params(locals())
        torch.manual_seed(seed)
        self.module, self.head, self.is_trained_ = torch.nn.Linear(n_genes, 2), None, False

    def finetune(self) -> None:
        self.head, self.is_trained_ = torch.nn.Linear(2, 1), True

    def _check_saveable(self) -> None:  # either stage may be saved
        pass

    def _state_dict(self) -> dict:
        parts = {"module": self.module, "head": self.head}
        return {name: part.state_dict() for name, part in parts.items() if part is not None}

    def _extra_state(self) -> dict:
        return {"finetuned": self.head is not None}

    @classmethod
    def _rebuild(cls, meta: dict, state: dict) -> "TwoStage":
        model = cls(**meta["init"])
        if meta["finetuned"]:
            model.head = torch.nn.Linear(2, 1)
        return model

    def _load_state(self, state: dict, path: Path) -> None:
        load_state(self.module, state["module"], path, "network")
        if self.head is not None:
            load_state(self.head, state["head"], path, "head")

    def _restore_extra_state(self, meta: dict, path: Path) -> None:
        self.is_trained_ = meta["finetuned"]


def test_a_two_stage_model_saves_each_stage(tmp_path):
    model = TwoStage(n_genes=4, seed=1)
    model.save(tmp_path / "first")
    first = TwoStage.load(tmp_path / "first")
    assert (first.head, first.is_trained_, first.init_params_) == (None, False, {"n_genes": 4, "seed": 1})
    torch.testing.assert_close(first.module.weight, model.module.weight)
    model.finetune()
    model.save(tmp_path / "second")
    second = TwoStage.load(tmp_path / "second")
    assert second.is_trained_
    torch.testing.assert_close(second.head.weight, model.head.weight)
    with pytest.raises(TypeError, match="holds a saved TwoStage, not a GRIP"):
        GRIP.load(tmp_path / "second")


# ------------------------------------------------------------------------------------ the module on its own
def test_io_settings_numpy_values_and_required_fields(tmp_path):
    state = torch.nn.Linear(3, 2).state_dict()
    save_model(tmp_path / "m", "Toy", state, {"init": {"n": np.int64(3), "w": np.array([0.5])}})
    meta, loaded = load_model(tmp_path / "m", "Toy", required=("init",))
    assert meta["init"] == {"n": 3, "w": [0.5]}
    assert torch.equal(loaded["weight"], state["weight"])
    with pytest.raises(ValueError, match=r"lacks the field\(s\) \['var_names'\]"):
        load_model(tmp_path / "m", "Toy", required=("init", "var_names"))
    with pytest.raises(TypeError, match="cannot be written as JSON: cannot store a object"):
        save_model(tmp_path / "n", "Toy", state, {"init": {"f": object()}})
    assert not (tmp_path / "n").exists()  # nothing written
    with pytest.raises(ValueError, match="reserved keys"):
        save_model(tmp_path / "n", "Toy", state, {"versions": {}})
    with pytest.raises(ValueError, match="entry 'bias' is a str, not a tensor"):
        save_model(tmp_path / "n", "Toy", {"bias": "x"}, {})


def test_io_file_without_versions_warns(tmp_path):
    """A save from before versions were recorded (same layout, no ``format_version``) loads with a warning."""
    save_model(tmp_path / "m", "Toy", torch.nn.Linear(2, 2).state_dict(), {})
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    del meta["versions"], meta["format_version"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="does not record the versions"):
        load_model(tmp_path / "m", "Toy")
    (tmp_path / "m" / "model.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        load_model(tmp_path / "m", "Toy")
