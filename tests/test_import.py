"""``import sctl`` is light: the namespaces and their names load on first access (PEP 562), and all still resolve."""

import importlib
import subprocess
import sys

import pytest

import sctl

HEAVY = ("torch", "scvi", "lightning", "decoupler")
NAMESPACES = ["datasets", "metrics", "models", "models.baselines", "nn", "pl", "pp", "tl"]
#: namespaces none of whose names needs torch, scvi-tools, Lightning or decoupler at import
LIGHT = ["datasets", "metrics", "models.baselines", "pl", "pp"]


def _heavy_modules_after(code: str) -> list[str]:
    """Top-level heavy packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    check = f"{code}\nimport sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    return eval(result.stdout.strip().splitlines()[-1])  # a printed list of names


def test_import_sctl_loads_no_heavy_package():
    assert _heavy_modules_after("import sctl") == []


def test_cli_help_loads_no_heavy_package():
    code = (
        "import contextlib, io, sctl.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    sctl.cli.main(['demo', '--help'])"
    )
    assert _heavy_modules_after(code) == []


def test_light_namespaces_load_no_heavy_package():
    names = ", ".join(f"*[getattr(sctl.{ns}, n) for n in sctl.{ns}.__all__]" for ns in LIGHT)
    assert _heavy_modules_after(f"import sctl, sctl.models.baselines\n_ = [{names}]") == []


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_exported_name_resolves(namespace):
    module = importlib.import_module(f"sctl.{namespace}")
    assert module.__all__, f"sctl.{namespace} exports nothing"
    assert set(module.__all__) <= set(dir(module))  # tab completion lists every export
    for name in module.__all__:
        assert getattr(module, name) is not None
        assert name in vars(module)  # cached after the first access


def test_namespaces_are_attributes_of_sctl():
    assert set(sctl.__all__) == {"datasets", "metrics", "models", "nn", "pl", "pp", "tl"}
    assert sctl.models.baselines is importlib.import_module("sctl.models.baselines")
    from sctl.models import CSG2A

    assert CSG2A is sctl.models.csg2a.CSG2A


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match=r"'sctl\.pp' has no attribute 'nope'"):
        sctl.pp.nope  # noqa: B018
    with pytest.raises(ImportError):
        from sctl.tl import nope  # noqa: F401
