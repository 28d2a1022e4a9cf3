"""From a predicted z-scored response to a probability of sensitivity, calibrated on the reference lines."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit

from sctl._constants import RESISTANT, SENSITIVE

#: range searched for the slope (per unit of z)
SLOPE_BOUNDS = (1e-3, 100.0)


@dataclass(frozen=True)
class Calibration:
    """``p = sigmoid(slope * (midpoint_d - z))``: the probability that a profile of predicted z is sensitive to ``d``.

    ``midpoint_d`` is the z-scored response halfway between the drug's least sensitive line labelled sensitive
    and its most sensitive line labelled resistant (the boundary of the label rule of
    :func:`sctl.pp.binarize_response`); ``slope`` (> 0, shared by the drugs) maximises the likelihood of the
    labels of the lines it is fitted on, from their predicted z. A monotone map per drug: cells keep the order
    of their predicted z (sctl).

    Attributes
    ----------
    slope
        Logistic slope per unit of z.
    midpoints
        One boundary per drug, in z units.
    fitted_on
        Which lines gave the slope, in words.
    """

    slope: float
    midpoints: np.ndarray
    fitted_on: str

    @classmethod
    def fit(
        cls, z_observed: pd.DataFrame, labels: pd.DataFrame, z_predicted: np.ndarray, fit_rows: np.ndarray, what: str
    ) -> Calibration:
        """Midpoints from the observed z and labels of every line; the slope from the predictions of ``fit_rows``.

        Parameters
        ----------
        z_observed, labels
            Lines x drugs: observed z-scores and ``"sensitive"`` / ``"resistant"`` / NaN labels.
        z_predicted
            Lines x drugs: the model's predicted z of the same lines.
        fit_rows
            Positions (among the lines) of those the slope is fitted on.
        what
            Which lines those are, in words (recorded).
        """
        text = labels.astype(object).to_numpy()
        observed = z_observed.to_numpy(np.float64)
        midpoints = np.array(
            [
                (observed[text[:, j] == SENSITIVE, j].max() + observed[text[:, j] == RESISTANT, j].min()) / 2
                for j in range(text.shape[1])
            ]
        )
        sign = np.where(text[fit_rows] == SENSITIVE, 1.0, np.where(text[fit_rows] == RESISTANT, -1.0, np.nan))
        margin = midpoints[None, :] - z_predicted[fit_rows]
        keep = ~np.isnan(sign)
        signed = (sign * margin)[keep]
        result = minimize_scalar(lambda a: -log_expit(a * signed).sum(), bounds=SLOPE_BOUNDS, method="bounded")
        slope = float(result.x)
        if slope <= 2 * SLOPE_BOUNDS[0]:
            warnings.warn(
                f"The predicted responses of the {what} do not separate their sensitive and resistant labels: the "
                "probabilities are flat (about 0.5). The model learnt little; check the reference and the genes.",
                UserWarning,
                stacklevel=4,
            )
        return cls(slope, midpoints, what)

    def probability(self, z: np.ndarray, drugs: np.ndarray | list[int]) -> np.ndarray:
        """Probabilities of sensitivity of predicted ``z`` (rows x ``len(drugs)``, or a vector for one drug)."""
        z = np.asarray(z, dtype=np.float64)
        midpoints = self.midpoints[np.asarray(drugs)]
        return expit(self.slope * (midpoints - (z if z.ndim == 2 else z[:, None])))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (saved with the model)."""
        return {"slope": self.slope, "midpoints": self.midpoints.tolist(), "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, record: dict[str, Any], n_drugs: int) -> Calibration:
        """Rebuild from :meth:`to_dict`, checking it holds one midpoint per drug."""
        midpoints = np.asarray(record["midpoints"], dtype=np.float64)
        if midpoints.shape != (n_drugs,) or not float(record["slope"]) > 0:
            raise ValueError(
                f"The saved calibration holds {midpoints.size} midpoints and slope {record['slope']!r} for "
                f"{n_drugs} drugs; the model file is corrupted. Save the model again."
            )
        return cls(float(record["slope"]), midpoints, str(record.get("fitted_on", "")))
