import json

import anndata as ad
import pytest

import sctl
from sctl.cli import main


def test_demo_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--drug", "--n-cells", "--methods", "--seed", "--out"):
        assert option in text


def test_no_command_prints_help(capsys):
    assert main([]) == 1
    assert "demo" in capsys.readouterr().out


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--n-cells", "600", "--methods", "ensemble,logreg", "--seed", "1", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "ensemble" in printed
    assert "auroc" in printed

    report = json.loads((out / "metrics.json").read_text())
    assert report["mode"] == "within_line"
    assert [row["method"] for row in report["metrics"]] == ["ensemble", "logreg"]
    ensemble = report["metrics"][0]
    assert ensemble["auroc"] > 0.75  # one line's sub-populations on a droplet platform: real signal, noisy
    # every line behind the tumour (parental and program lines) is held out of training
    assert report["n_reference_lines"] == sctl.datasets.gdsc().n_obs - len(report["held_out_lines"]) > 500

    cells = ad.read_h5ad(out / "demo.h5ad")
    assert cells.n_obs == 600
    assert {"sctl_response_proba", "sctl_response", "response"} <= set(cells.obs.columns)
    assert "X_umap" in cells.obsm
    assert cells.uns["sctl_response"]["params"]["method"] == "ensemble"
    assert (out / "umap_response.png").stat().st_size > 10_000
