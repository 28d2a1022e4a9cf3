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
    assert main(["demo", "--n-cells", "600", "--methods", "logreg,signature", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "logreg" in printed
    assert "auroc" in printed

    report = json.loads((out / "metrics.json").read_text())
    assert [row["method"] for row in report["metrics"]] == ["logreg", "signature"]
    logreg = report["metrics"][0]
    assert logreg["auroc"] > 0.75  # semi-synthetic tumour of held-out lines: the signal is real but noisy
    # the tumour's source lines are held out of training
    assert report["n_reference_lines"] == sctl.datasets.gdsc().n_obs - len(report["held_out_lines"]) > 500

    cells = ad.read_h5ad(out / "demo.h5ad")
    assert cells.n_obs == 600
    assert {"sctl_response_proba", "sctl_response", "response"} <= set(cells.obs.columns)
    assert "X_umap" in cells.obsm
    assert cells.uns["sctl_response"]["params"]["method"] == "logreg"
    assert (out / "umap_response.png").stat().st_size > 10_000
