"""sctl.pl.patient_response and sctl.pl.pathways render to PNG."""

import anndata as ad
import matplotlib
import pandas as pd
import pytest

import sctl

from ._plot_inputs import evaluated_patients

matplotlib.use("Agg")


@pytest.fixture
def patients():
    return evaluated_patients()


def test_patient_response_png(patients, tmp_path):
    path = tmp_path / "patients.png"
    fig = sctl.pl.patient_response(patients, save=path, show=False)
    assert path.stat().st_size > 1000
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # DrugC was skipped
    assert fig.axes[0].get_title().startswith("DrugA")
    fig = sctl.pl.patient_response(patients, drugs=["DrugB"], save=tmp_path / "b.png")  # saving: not shown
    assert fig is not None
    assert (tmp_path / "b.png").exists()


def test_patient_response_errors(patients):
    with pytest.raises(ValueError, match="were not tested"):
        sctl.pl.patient_response(patients, drugs=["DrugC"], show=False)
    with pytest.raises(KeyError, match="evaluate_patients"):
        sctl.pl.patient_response(ad.AnnData(obs=pd.DataFrame(index=["a"])), show=False)


def test_pathways_png(tmp_path):
    lines = sctl.datasets.gdsc()[:60].copy()
    sctl.tl.score_pathways(lines)
    path = tmp_path / "pathways.png"
    fig = sctl.pl.pathways(lines, "tissue", save=path, show=False)
    assert path.stat().st_size > 1000
    assert len(fig.axes[0].get_xticklabels()) == 14
    fig = sctl.pl.pathways(lines, sources=["EGFR", "MAPK"], show=False)
    assert len(fig.axes[0].get_yticklabels()) == 1
    with pytest.raises(KeyError, match="score_pathways"):
        sctl.pl.pathways(lines, key="nope", show=False)
    with pytest.raises(KeyError, match="not in"):
        sctl.pl.pathways(lines, sources=["Nope"], show=False)
