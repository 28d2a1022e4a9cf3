"""``accelerator`` / ``devices`` / ``strategy`` and other Lightning arguments reach the Trainer of every phase."""

import pytest
from lightning.pytorch.callbacks import Callback
from scvi.train import TrainRunner

from sctl.models import ATSDPNet, PathwayTransfer, transfer_data

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
        seen.append({"accelerator": accelerator, "devices": devices, "phase": training_plan.phase, **kwargs})
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
