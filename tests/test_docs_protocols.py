"""The examples of a user's own model (the protocols' docstrings and the models guide) run and do what they say."""

import doctest
import re
from pathlib import Path

import numpy as np
import pytest

import sctl

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "models.md"


@pytest.mark.parametrize("protocol", [sctl.tl.ResponseModel, sctl.tl.PerturbationModel])
def test_protocol_docstring_example_runs(protocol):
    (test,) = [t for t in doctest.DocTestFinder(recurse=False).find(protocol) if t.examples]
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test)
    assert result.attempted >= 5
    assert result.failed == 0, f"the Examples of {protocol.__name__} fail (see the output above)"


def test_protocols_accept_any_object_with_predict():
    class Probabilities:
        def predict(self, adata):
            return np.full(adata.n_obs, 0.5)

    assert isinstance(Probabilities(), sctl.tl.ResponseModel)
    assert isinstance(Probabilities(), sctl.tl.PerturbationModel)
    assert not isinstance(object(), sctl.tl.ResponseModel)


def test_models_guide_own_model_section_runs():
    section = GUIDE.read_text().split("## Your own model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(GUIDE), "exec"), namespace)
    cells, treated, table = namespace["cells"], namespace["treated"], namespace["table"]
    assert cells.obs["sctl_response_proba"].between(0, 1).all()
    assert set(cells.obs["sctl_response"].unique()) <= {"sensitive", "resistant"}
    assert treated.layers["sctl_predicted_delta"].shape == treated.shape
    # predicting each drug's mean change is the per-drug-mean baseline: the same error on every fold
    rmse = table[table["metric"] == "mean_rowwise_rmse"].pivot(index="fold", columns="model", values="value")
    np.testing.assert_allclose(rmse["drug_mean"], rmse["per_drug_mean"], rtol=1e-6)
    assert rmse["drug_mean"].mean() < rmse["zero_change"].mean()
