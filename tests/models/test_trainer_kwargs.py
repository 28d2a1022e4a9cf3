"""``accelerator`` / ``devices`` / ``strategy`` and other Lightning arguments reach the Trainer of every phase."""

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from scvi.train import TrainRunner

import sctl
from sctl.models import CSG2A, CSG2AIC50, ATSDPNet, PathwayTransfer, transfer_data

from ._transfer_data import DRUG, bulk_and_cells


class _Stop(Exception):
    pass


@pytest.fixture
def trainer_spy(monkeypatch):
    """Record what scvi-tools' TrainRunner receives for Lightning's Trainer, then stop before any training.

    (The runner resolves the accelerator before building the Trainer; with no GPU here it would refuse "gpu".)
    """
    seen = []

    def spy(self, model, training_plan, data_splitter, max_epochs, accelerator="auto", devices="auto", **kwargs):
        phase = getattr(training_plan, "phase", None)  # CSG2A's two stages share one plan class
        seen.append({"accelerator": accelerator, "devices": devices, "phase": phase, **kwargs})
        raise _Stop

    monkeypatch.setattr(TrainRunner, "__init__", spy)
    return seen


def _data(cls):
    bulk, cells = bulk_and_cells()
    data = transfer_data(bulk, cells, DRUG)
    cls.setup_anndata(data)
    return data


@pytest.mark.parametrize("cls", [PathwayTransfer, ATSDPNet])
@pytest.mark.parametrize("pretrain_epochs", [1, 0], ids=["pretraining", "classifier"])  # 0: the first phase skipped
def test_multi_gpu_arguments_reach_lightning(cls, pretrain_epochs, trainer_spy):
    model = cls(_data(cls))
    with pytest.raises(_Stop):
        model.train(
            max_epochs=1,
            pretrain_epochs=pretrain_epochs,
            accelerator="gpu",
            devices=2,
            strategy="ddp_find_unused_parameters_true",
        )
    kwargs = trainer_spy[0]
    assert kwargs["phase"] == cls._phases[0 if pretrain_epochs else 1]
    assert kwargs["accelerator"] == "gpu"
    assert kwargs["devices"] == 2
    assert kwargs["strategy"] == "ddp_find_unused_parameters_true"


def test_one_device_by_default(trainer_spy):
    model = PathwayTransfer(_data(PathwayTransfer))
    with pytest.raises(_Stop):
        model.train(max_epochs=1)
    assert trainer_spy[0]["devices"] == 1
    assert trainer_spy[0]["accelerator"] == "auto"


class _Fits(Callback):
    def __init__(self):
        self.fits, self.val_epochs = 0, 0

    def on_fit_start(self, trainer, pl_module):
        self.fits += 1

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.val_epochs += 1


def test_callbacks_and_validation_frequency_in_every_phase_with_early_stopping():
    # what scvi-tools' autotune passes to train(): its own callback, devices="auto", check_val_every_n_epoch
    model = PathwayTransfer(_data(PathwayTransfer))
    fits = _Fits()
    model.train(
        max_epochs=2,
        pretrain_epochs=2,
        early_stopping=True,
        accelerator="cpu",
        devices="auto",
        check_val_every_n_epoch=2,
        callbacks=[fits],
        enable_progress_bar=False,
    )
    assert fits.fits == 2  # both phases, no duplicated early-stopping callback from the first
    assert fits.val_epochs == 2  # every second epoch of each phase
    assert model.trainer.num_devices == 1
    assert set(model.history_by_phase_) == {"pretrain", "classifier"}


# ------------------------------------------------------------------------------------------------------------ CSG2A
@pytest.fixture(scope="module")
def csg2a_data():
    """L1000 profiles of the plate drugs with a SMILES and GDSC lines with two drugs, on 20 shared landmark genes."""
    lincs, bulk = sctl.datasets.lincs(), sctl.datasets.gdsc()
    sctl.pp.match_controls(lincs, control="DMSO")
    table = bulk.uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(table["lincs_name"], table["smiles"], strict=True))
    genes = bulk.var_names[bulk.var["landmark"].to_numpy()].intersection(lincs.var_names)[:20]
    plate = lincs[lincs.obs["drug"].astype(str).isin(smiles), genes].copy()
    CSG2A.setup_anndata(plate, drug_key="drug", smiles=smiles)
    bulk = bulk[:40, genes].copy()
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][["Trametinib", "Dasatinib"]]
    return plate, bulk


def _stages(model, bulk):
    """Both stages of CSG2A, each trained with the given keyword arguments; each returns its trained model."""
    return {
        "pretraining": lambda **kwargs: model.train(**kwargs),
        "fine-tuning": lambda **kwargs: CSG2AIC50.from_pretrained(model, bulk).train(**kwargs),
    }


@pytest.mark.parametrize("stage", ["pretraining", "fine-tuning"])
def test_csg2a_arguments_reach_lightning_unchanged(stage, csg2a_data, trainer_spy, monkeypatch):
    plate, bulk = csg2a_data
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a machine with GPUs
    callback = Callback()
    model = CSG2A(plate, n_hidden=4, n_condition_hidden=8)
    with pytest.raises(_Stop):
        _stages(model, bulk)[stage](
            max_epochs=1,
            accelerator="gpu",
            devices=2,
            strategy="ddp_find_unused_parameters_true",
            callbacks=[callback],
            gradient_clip_val=0.5,
        )
    kwargs = trainer_spy[0]
    assert kwargs["accelerator"] == "gpu"
    assert kwargs["devices"] == 2
    assert kwargs["strategy"] == "ddp_find_unused_parameters_true"
    assert kwargs["gradient_clip_val"] == 0.5
    assert callback in kwargs["callbacks"]


def test_csg2a_runs_on_one_device_by_default(csg2a_data, trainer_spy):
    plate, _ = csg2a_data
    with pytest.raises(_Stop):
        CSG2A(plate, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    assert trainer_spy[0]["devices"] == 1
    assert trainer_spy[0]["accelerator"] == "auto"


@pytest.mark.parametrize("stage", ["pretraining", "fine-tuning"])
def test_csg2a_callbacks_validation_and_early_stopping(stage, csg2a_data):
    # what scvi-tools' autotune passes to train(): its own callback, devices="auto", check_val_every_n_epoch
    plate, bulk = csg2a_data
    model = CSG2A(plate, n_hidden=4, n_condition_hidden=8)
    fits = _Fits()
    trained = _stages(model, bulk)[stage](
        max_epochs=4,
        train_size=0.75,
        early_stopping=True,
        accelerator="cpu",
        devices="auto",
        check_val_every_n_epoch=2,
        callbacks=[fits],
        enable_progress_bar=False,
    )
    assert fits.fits == 1
    assert fits.val_epochs == 2  # every second epoch
    assert len(trained.history_["validation_loss"]) == 2
    assert len(trained.history_["train_loss"]) == 4
    with pytest.raises(ValueError, match="validation set: pass `train_size` < 1"):
        _stages(model, bulk)[stage](max_epochs=1, early_stopping=True, enable_progress_bar=False)


class _Report(Callback):
    """Reads ``validation_loss`` at each validation end, as the Ray Tune callback of scvi-tools' autotune does."""

    def __init__(self):
        self.values = []

    def on_validation_end(self, trainer, pl_module):
        self.values.append(float(trainer.callback_metrics["validation_loss"]))


def test_csg2a_trial_as_scvi_autotune_runs_it(csg2a_data):
    """Each autotune trial sets the data up from the registered setup, then trains with Lightning arguments.

    (scvi-tools' autotune itself needs Ray, which the test environment lacks; this is what its trainable does.)
    """
    plate, _ = csg2a_data
    manager = CSG2A._get_most_recent_anndata_manager(plate, required=True)
    setup_method = manager._registry["setup_method_name"]
    trial = plate.copy()
    getattr(CSG2A, setup_method)(trial, **manager._get_setup_method_args()["setup_args"])
    report = _Report()
    model = CSG2A(trial, n_hidden=4, n_condition_hidden=8)
    model.train(
        max_epochs=2,
        train_size=0.75,
        accelerator="auto",
        devices="auto",
        check_val_every_n_epoch=1,
        enable_progress_bar=False,
        logger=False,
        callbacks=[report],
    )
    assert len(report.values) == 2
    assert model.is_trained_
    unset = plate.copy()
    del unset.uns["_scvi_uuid"]
    assert CSG2A._get_most_recent_anndata_manager(unset) is None
    with pytest.raises(ValueError, match="setup_anndata"):
        CSG2A._get_most_recent_anndata_manager(unset, required=True)
