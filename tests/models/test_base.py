"""The plumbing shared by the models: preset settings read from a call's locals() and field registration."""

import inspect
from types import SimpleNamespace

import numpy as np
import pytest
from anndata import AnnData
from scvi.data.fields import LayerField

from sctl.models import GRIP, ATSDPNet, PathwayTransfer, SeqPerturb
from sctl.models._base import init_settings, preset_arguments, preset_settings, register_fields
from sctl.models.atsdp._model import INIT_PRESETS as ATSDP_INIT
from sctl.models.atsdp._model import TRAIN_PRESETS as ATSDP_TRAIN
from sctl.models.grip._presets import INIT_PRESETS as GRIP_INIT
from sctl.models.grip._presets import TRAIN_PRESETS as GRIP_TRAIN
from sctl.models.pathway_transfer._model import INIT_PRESETS as PT_INIT
from sctl.models.pathway_transfer._model import TRAIN_PRESETS as PT_TRAIN
from sctl.models.seqperturb._presets import INIT_PRESETS as SEQ_INIT

TABLE = {"sctl": {"lr": 1e-3, "batch_size": 128}, "paper": {"lr": 1e-4, "batch_size": 20}}


def _call(lr=None, batch_size=64, seed=0, preset="paper"):
    return dict(locals())


def test_preset_settings_take_the_preset_where_none_in_the_table_order():
    settings = preset_settings("paper", TABLE, {"batch_size": 64, "seed": 3, "lr": None})
    assert settings == {"lr": 1e-4, "batch_size": 64}
    assert list(settings) == ["lr", "batch_size"]
    assert preset_settings("sctl", TABLE, _call(lr=0.5)) == {"lr": 0.5, "batch_size": 64}


def test_preset_arguments_name_a_table_entry_the_call_lacks():
    with pytest.raises(KeyError, match=r"sets \['batch_size'\]"):
        preset_arguments(TABLE, {"lr": None})


def test_init_settings_check_and_keep_the_preset():
    model = SimpleNamespace()
    assert init_settings(model, TABLE, _call()) == {"lr": 1e-4, "batch_size": 64}
    assert model.preset == "paper"
    with pytest.raises(ValueError, match="Unknown preset 'papers'"):
        init_settings(SimpleNamespace(), TABLE, _call(preset="papers"))


@pytest.mark.parametrize(
    ("method", "table"),
    [
        (GRIP.__init__, GRIP_INIT),
        (GRIP.train, GRIP_TRAIN),
        (SeqPerturb.__init__, SEQ_INIT),
        (ATSDPNet.__init__, ATSDP_INIT),
        (ATSDPNet.train, ATSDP_TRAIN),
        (PathwayTransfer.__init__, PT_INIT),
        (PathwayTransfer.train, PT_TRAIN),
    ],
)
def test_every_preset_setting_is_an_explicit_none_argument(method, table):
    parameters = inspect.signature(method).parameters
    for preset in table.values():
        assert list(preset) == list(table["sctl"])
        for name in preset:
            assert parameters[name].default is None, name


def test_register_fields_keeps_the_manager_on_the_class():
    managers = []
    model_cls = SimpleNamespace(register_manager=managers.append)
    adata = AnnData(np.ones((4, 3), dtype=np.float32))
    setup = {"model_name": "Test", "setup_args": {"layer": None}}
    register_fields(model_cls, adata, [LayerField("X", None, is_count_data=False)], setup)
    (manager,) = managers
    assert manager.registry["setup_args"] == {"layer": None}
    assert manager.get_from_registry("X").shape == (4, 3)
