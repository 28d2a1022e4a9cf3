import json
import sys
import warnings

import anndata as ad
import pytest

import sctl
from sctl.cli import _quiet_demo, main


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


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (
            ["--drug", "Aspirin"],
            ["argument --drug: 'Aspirin' is not a drug of the shipped GDSC data.", "its 40 drugs: ", "Dabrafenib"],
        ),
        (["--drug", "dabrafenib"], ["Did you mean 'Dabrafenib'"]),
        (["--n-cells", "0"], ["argument --n-cells: must be at least 100", "got 0"]),
        (["--n-cells", "many"], ["argument --n-cells: must be an integer, got 'many'"]),
        (["--threads", "0"], ["argument --threads: must be at least 1, got 0"]),
        (
            ["--methods", "foo"],
            ["argument --methods: unknown method(s) 'foo'.", "Choose among: decomposed_ridge, ensemble, ", "logreg"],
        ),
        (["--methods", " , "], ["argument --methods: names no method.", "atsdp"]),
    ],
)
def test_demo_rejects_bad_arguments_before_training(argv, fragments, tmp_path, capsys):
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *argv, "--out", str(out)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # one line, after argparse's usage
    assert error.startswith("sctl demo: error: ")
    for fragment in fragments:
        assert fragment in error
    assert not out.exists()  # nothing ran


def test_demo_runs_end_to_end(tmp_path, capsys, caplog):
    out = tmp_path / "demo"
    argv = ["demo", "--n-cells", "600", "--methods", "ensemble,logreg", "--seed", "1", "--out", str(out)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning raised reaches the demo's printer
        assert main(argv) == 0
    shown = [(w.category, str(w.message)) for w in caught]
    assert any("small panel" in text for _, text in shown)  # the tumour has 800 of the 2,000 genes: said once
    assert len(shown) == len(set(shown)), "the demo repeated a warning"
    printed = capsys.readouterr()
    assert "GPU available" not in printed.out + printed.err + caplog.text  # Lightning's banners are off
    assert "Signaling Trainer to stop" not in printed.out  # nor scvi-tools' early-stopping note
    assert "ensemble" in printed.out
    assert "auroc" in printed.out
    assert "The same --seed gives the same figures on this machine with the same --threads" in printed.out

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


def test_demo_shows_a_warning_as_its_text_once(capsys):
    def show(message, category, filename, lineno, file=None, line=None):  # Python's own printer, not pytest's
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    before = warnings.formatwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        with _quiet_demo(False, 1):
            warnings.warn("too few genes", UserWarning, stacklevel=1)
            warnings.warn("too few genes", UserWarning, stacklevel=1)
    assert capsys.readouterr().err == "warning: too few genes\n"  # no file, no source line, said once
    assert warnings.formatwarning is before  # restored
