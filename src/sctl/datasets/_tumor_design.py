"""Design of a semi-synthetic tumour: which lines the cells come from and where each cell sits on the programs.

Each mode of :func:`sctl.datasets.tumor` is one function returning a :class:`_Design`: the cells' expression
z-scores, their labels, their ``obs`` columns and the lines behind them (what must be held out of a reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import RESISTANT, RESPONSE_CATEGORIES, SENSITIVE
from sctl._validate import check_response, preview
from sctl.pp._specific import split_response

#: response-independent programs a within-line tumour varies along (leading principal axes of the GDSC lines)
_N_NUISANCE = 8


@dataclass
class _Design:
    """What a mode decides: each cell's expression z-scores and labels, and the lines behind them."""

    cell_z: np.ndarray
    response: np.ndarray
    obs: dict[str, np.ndarray]
    info: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class _Draw:
    """How a mode draws its cells: how many, from how many lines of which pools, and (sub-population modes) where."""

    n_cells: int
    n_lines: int
    #: fraction of the tested lines in each of the sensitive and resistant pools
    k: float
    #: sub-population modes: distance between the sub-populations along a program
    effect: float
    #: sub-population modes: sd of the response-independent programs
    nuisance: float
    rng: np.random.Generator

    def positions(self, side: np.ndarray) -> np.ndarray:
        """Graded positions on the programs: each sub-population's ``side * effect``, spread by ``effect / 4``."""
        return side * self.effect + self.rng.normal(0.0, self.effect / 4, size=side.shape)


def _pools(response: pd.Series, k: float) -> tuple[pd.Index, pd.Index]:
    """Sensitive (bottom ``k``) and resistant (top ``k``) lines of a drug's response, by rank."""
    tested = response.dropna().sort_values(kind="stable")
    n_pool = int(np.floor(k * len(tested)))
    return tested.index[:n_pool], tested.index[len(tested) - n_pool :]


def _pick_lines(
    response: pd.Series, n_sensitive: int, n_resistant: int, k: float, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """Draw sensitive lines among the bottom ``k`` and resistant ones among the top ``k`` of the response."""
    sensitive_pool, resistant_pool = _pools(response, k)
    if min(len(sensitive_pool), len(resistant_pool)) < max(n_sensitive, n_resistant):
        raise ValueError(
            f"Drug {response.name!r} has {response.notna().sum()} tested lines, so the top / bottom {k:.0%} hold "
            f"{len(sensitive_pool)}; too few for {n_sensitive + n_resistant} lines. Lower `n_lines` or raise `k`."
        )
    sensitive = rng.choice(sensitive_pool.to_numpy(), size=n_sensitive, replace=False)
    resistant = rng.choice(resistant_pool.to_numpy(), size=n_resistant, replace=False)
    return [str(line) for line in sensitive], [str(line) for line in resistant]


def _cells_per_line(n_cells: int, n_sensitive: int, n_resistant: int) -> np.ndarray:
    """Split the cells half sensitive, half resistant, evenly over the lines of each class."""
    n_sensitive_cells = n_cells // 2
    sizes = [len(part) for part in np.array_split(np.arange(n_sensitive_cells), n_sensitive)]
    sizes += [len(part) for part in np.array_split(np.arange(n_cells - n_sensitive_cells), n_resistant)]
    return np.asarray(sizes)


def _of_lines(
    bulk: AnnData, sensitive: list[str], resistant: list[str], n_cells: int, rng: np.random.Generator
) -> _Design:
    """Cells drawn from whole lines; a cell's label is its line's."""
    lines = sensitive + resistant
    line_of_cell = rng.permutation(
        np.repeat(np.arange(len(lines)), _cells_per_line(n_cells, len(sensitive), len(resistant)))
    )
    source = np.asarray(lines, dtype=object)[line_of_cell]
    response = np.where(line_of_cell < len(sensitive), SENSITIVE, RESISTANT)
    profiles = np.asarray(bulk[lines].X, dtype=np.float64)
    obs = {
        "cell_line": pd.Categorical(source, categories=lines),
        "tissue": pd.Categorical(bulk.obs["tissue"].astype(object).reindex(source).to_numpy()),
    }
    info = {"cell_lines": lines, "sensitive_lines": sensitive, "resistant_lines": resistant, "held_out_lines": lines}
    return _Design(profiles[line_of_cell], response, obs, info)


def _unit_rms(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.sqrt(np.mean(vectors**2, axis=-1, keepdims=True))


def _leading_axes(bulk_z: np.ndarray) -> np.ndarray:
    """The ``_N_NUISANCE`` leading principal axes of the lines' expression."""
    centred = bulk_z - bulk_z.mean(axis=0)
    return np.linalg.svd(centred, full_matrices=False)[2][:_N_NUISANCE]


def _nuisance_programs(bulk_z: np.ndarray, program: np.ndarray) -> np.ndarray:
    """Leading principal axes of the lines' expression, made orthogonal to the resistance program (unit RMS)."""
    axes = _leading_axes(bulk_z)
    axes -= np.outer(axes @ program / (program @ program), program)
    return _unit_rms(axes)


def _nuisance_activity(n_cells: int, nuisance: float, rng: np.random.Generator) -> np.ndarray:
    """Each cell's activity along the response-independent programs, cells x programs."""
    weights = nuisance / np.sqrt(np.arange(1, _N_NUISANCE + 1))  # leading programs vary most
    return rng.normal(size=(n_cells, _N_NUISANCE)) * weights


def _parental_obs(bulk: AnnData, parental: str, n_cells: int) -> dict[str, pd.Categorical]:
    """``cell_line`` and ``tissue`` of cells that all come from the parental line."""
    return {
        "cell_line": pd.Categorical([parental] * n_cells),
        "tissue": pd.Categorical([str(bulk.obs["tissue"][parental])] * n_cells),
    }


def _within_line(bulk: AnnData, response: pd.Series, draw: _Draw) -> _Design:
    """One parental (sensitive) line; the resistant sub-population moves along the resistance program.

    The program is the mean profile of ``n_lines // 2`` resistant lines minus that of as many other sensitive
    lines (all held out with the parental line). Every cell also varies along response-independent programs.
    """
    n_cells, n_lines, rng = draw.n_cells, draw.n_lines, draw.rng
    sensitive, resistant = _pick_lines(response, n_lines // 2 + 1, n_lines - n_lines // 2, draw.k, rng)
    parental, contrast = sensitive[0], sensitive[1:]
    bulk_z = np.asarray(bulk.X, dtype=np.float64)
    program = _unit_rms(
        np.asarray(bulk[resistant].X, dtype=np.float64).mean(0) - np.asarray(bulk[contrast].X, dtype=np.float64).mean(0)
    )
    is_resistant = rng.permutation(np.arange(n_cells) >= n_cells // 2)
    # graded position on the program: sub-population mean +- effect / 2, spread within each sub-population
    position = draw.positions(np.where(is_resistant, 0.5, -0.5))
    nuisance_axes = _nuisance_programs(bulk_z, program)
    activity = _nuisance_activity(n_cells, draw.nuisance, rng)
    parental_z = np.asarray(bulk[[parental]].X, dtype=np.float64)[0]
    cell_z = parental_z + position[:, None] * program + activity @ nuisance_axes
    obs = {**_parental_obs(bulk, parental, n_cells), "resistance_program": position}
    info = {
        "cell_lines": [parental],
        "parental_line": parental,
        "sensitive_lines": contrast,
        "resistant_lines": resistant,
        "held_out_lines": [parental, *contrast, *resistant],
    }
    return _Design(cell_z, np.where(is_resistant, RESISTANT, SENSITIVE), obs, info)


def _orthogonal_nuisance(bulk_z: np.ndarray, programs: np.ndarray) -> np.ndarray:
    """Leading principal axes of the lines' expression, made orthogonal to every program (unit RMS)."""
    basis = np.linalg.qr(programs.T)[0].T
    axes = _leading_axes(bulk_z)
    axes -= (axes @ basis.T) @ basis
    return _unit_rms(axes)


def _program_axes(
    bulk: AnnData, drugs: list[str], key: str, subpopulations: str, general_shift: float
) -> dict[str, pd.Series]:
    """Response of every line along which each program is drawn: drug-specific responses and general sensitivity."""
    specific, general = split_response(check_response(bulk, key))
    tested = specific[drugs].notna().all(axis=1)
    axes = {drug: specific[drug] for drug in drugs} if subpopulations == "specific" else {}
    if subpopulations == "general" or general_shift > 0:
        axes["general"] = general.where(tested).rename("general sensitivity")
    return axes


def _drug_pair(
    bulk: AnnData, drugs: list[str], key: str, subpopulations: str, general_shift: float, draw: _Draw
) -> _Design:
    """One parental line; sub-populations that respond in opposite directions to the drugs (or all alike).

    Each program is the mean profile of ``n_lines - n_lines // 2`` lines specifically resistant to a drug minus that
    of ``n_lines // 2`` lines specifically sensitive to it (or generally resistant minus generally sensitive).
    The parental line is drawn among the lines in none of the pools: average along every program. With
    ``general_shift``, drug-specific sub-populations also differ along the general-sensitivity program.
    """
    n_cells, n_lines, k, rng = draw.n_cells, draw.n_lines, draw.k, draw.rng
    axes = _program_axes(bulk, drugs, key, subpopulations, general_shift)
    middle = pd.concat(axes.values(), axis=1).dropna().index
    for response in axes.values():
        middle = middle.difference(pd.Index(np.concatenate(_pools(response, k))))
    if middle.empty:
        raise ValueError(f"No line lies outside the top / bottom {k:.0%} of every program of {drugs}; lower `k`.")
    parental = str(rng.choice(np.sort(middle.to_numpy())))
    programs, lines = [], {}
    for name, response in axes.items():
        sensitive, resistant = _pick_lines(response, n_lines // 2, n_lines - n_lines // 2, k, rng)
        profile = np.asarray(bulk[resistant].X, dtype=np.float64).mean(0)
        programs.append(_unit_rms(profile - np.asarray(bulk[sensitive].X, dtype=np.float64).mean(0)))
        lines[name] = {"sensitive_lines": sensitive, "resistant_lines": resistant}
    programs = np.asarray(programs)
    if subpopulations == "specific":
        # sub-population j is sensitive to drug j only: below the parental line on drug j's program, above on others
        group = rng.permutation(np.arange(n_cells) % len(drugs))
        is_sensitive = group[:, None] == np.arange(len(drugs))
        names = np.asarray([f"sensitive to {drug}" for drug in drugs], dtype=object)[group]
        side = np.where(is_sensitive, -0.5, 0.5)
        if general_shift > 0:  # the first drug's sensitive cells are also generally more sensitive than the others
            side = np.column_stack([side, np.where(group == 0, -0.5, 0.5) * general_shift])
    else:
        is_resistant = rng.permutation(np.arange(n_cells) >= n_cells // 2)
        is_sensitive = np.repeat(~is_resistant[:, None], len(drugs), axis=1)
        names = np.where(is_resistant, "resistant to all", "sensitive to all")
        side = np.where(is_resistant, 0.5, -0.5)[:, None]
    position = draw.positions(side)
    activity = _nuisance_activity(n_cells, draw.nuisance, rng)
    parental_z = np.asarray(bulk[[parental]].X, dtype=np.float64)[0]
    cell_z = (
        parental_z + position @ programs + activity @ _orthogonal_nuisance(np.asarray(bulk.X, np.float64), programs)
    )
    labels = np.where(is_sensitive, SENSITIVE, RESISTANT)
    obs = {
        **_parental_obs(bulk, parental, n_cells),
        "subpopulation": pd.Categorical(names),
        **{f"program_{name}": position[:, i] for i, name in enumerate(axes)},
        **{f"response_{drug}": _categorical(labels[:, j]) for j, drug in enumerate(drugs)},
    }
    held_out = [parental, *(line for pools in lines.values() for pool in pools.values() for line in pool)]
    info = {
        "cell_lines": [parental],
        "parental_line": parental,
        "drugs": list(drugs),
        "subpopulations": subpopulations,
        "programs": lines,
        "held_out_lines": list(dict.fromkeys(held_out)),
    }
    return _Design(cell_z, labels[:, 0], obs, info)


def _categorical(labels: np.ndarray) -> pd.Categorical:
    return pd.Categorical(labels, categories=list(RESPONSE_CATEGORIES))


def _held_out_tissue(bulk: AnnData, response: pd.Series, tissue: str | None, draw: _Draw) -> _Design:
    """Lines of one tissue, each class drawn within the tissue; the whole tissue is to be held out."""
    n_sensitive, n_resistant = draw.n_lines // 2, draw.n_lines - draw.n_lines // 2
    sensitive_pool, resistant_pool = _pools(response, draw.k)
    tissues = bulk.obs["tissue"].astype(str)
    counts = pd.DataFrame(
        {"sensitive": tissues[sensitive_pool].value_counts(), "resistant": tissues[resistant_pool].value_counts()}
    ).fillna(0)
    eligible = sorted(counts.index[(counts["sensitive"] >= n_sensitive) & (counts["resistant"] >= n_resistant)])
    if tissue is None:
        if not eligible:
            raise ValueError(
                f"No tissue has {n_sensitive} sensitive and {n_resistant} resistant lines for {response.name!r}; "
                "lower `n_lines` or raise `k`."
            )
        tissue = str(draw.rng.choice(eligible))
    elif tissue not in eligible:
        raise ValueError(
            f"Tissue {tissue!r} lacks {n_sensitive} sensitive and {n_resistant} resistant lines for "
            f"{response.name!r}. Tissues that have them: {preview(eligible)}."
        )
    in_tissue = tissues.index[tissues == tissue]
    sensitive, resistant = _pick_lines(response[in_tissue], n_sensitive, n_resistant, 0.5, draw.rng)
    design = _of_lines(bulk, sensitive, resistant, draw.n_cells, draw.rng)
    design.info.update(tissue=tissue, held_out_lines=[str(line) for line in in_tissue])
    return design
