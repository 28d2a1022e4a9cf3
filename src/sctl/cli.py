"""Command-line interface: ``sctl demo`` and ``sctl benchmark``."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anndata import AnnData

DEMO_DRUG = "Dabrafenib"
DEMO_METHODS = ("decomposed_ridge", "ensemble", "signature", "rf", "logreg")
DEMO_MODES = ("within_line", "held_out_tissue", "between_lines")
#: the fewest cells the demo embeds (50 principal components, 15 neighbours)
DEMO_MIN_CELLS = 100
#: loggers the demo silences while it runs (Lightning's GPU / TPU banners, scvi-tools' notes); restored after
QUIET_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "scvi")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sctl`` command line."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    if args.command == "demo" and (problem := _check_demo_args(args)):
        args.parser.error(problem)  # exits 2 with the usage and the problem, before any data is read
    return args.run(args)


def _integer_at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``minimum``, else an error saying ``why``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{why}, got {value}")
        return value

    return parse


def _demo_methods() -> tuple[str, ...]:
    """Classifiers the demo accepts: every method of :func:`sctl.tl.predict_response`."""
    from sctl.tl._response_methods import method_names

    return method_names()


def _check_demo_args(args: argparse.Namespace) -> str | None:
    """What is wrong with ``--drug`` / ``--methods`` (naming the valid choices), or ``None``; nothing is trained."""
    from sctl._validate import closest
    from sctl.datasets import gdsc

    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    valid = _demo_methods()
    unknown = [m for m in args.methods if m not in valid]
    if not args.methods or unknown:
        named = f"unknown method(s) {', '.join(map(repr, unknown))}" if unknown else "names no method"
        hint = closest(unknown[0], valid) if unknown else ""
        return f"argument --methods: {named}.{hint} Choose among: {', '.join(valid)}."
    drugs = sorted(gdsc().obsm["ln_ic50"].columns)
    if args.drug not in drugs:
        return (
            f"argument --drug: {args.drug!r} is not a drug of the shipped GDSC data.{closest(args.drug, drugs)} "
            f"Choose one of its {len(drugs)} drugs: {', '.join(drugs)}."
        )
    return None


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sctl", description="sctl: drug response from bulk screens to single cells.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(commands)
    _add_benchmark(commands)
    return parser


def _subcommand(commands: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` shows every default."""
    return commands.add_parser(
        name, help=summary, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def _add_demo(commands: Any) -> None:
    demo = _subcommand(
        commands,
        "demo",
        "learn drug sensitivity on real GDSC cell lines, transfer it to a semi-synthetic tumour, evaluate it",
        description=(
            "Run sctl end to end on the real data shipped with the package: train on GDSC cell lines "
            "(sctl.datasets.gdsc) with labels from the drug's LN_IC50, predict the sensitivity of every cell of a "
            "semi-synthetic tumour simulated from held-out GDSC lines on a droplet-like platform "
            "(sctl.datasets.realistic_tumor; by default one line with sensitive and resistant sub-populations), "
            "score the predictions against the tumour's ground truth beside baselines, and write demo.h5ad, "
            "metrics.json and a UMAP of the predicted sensitivity into the output folder. Every line the tumour "
            "was simulated from is removed from the training lines, so nothing leaks."
        ),
    )
    demo.add_argument("--drug", default=DEMO_DRUG, help="drug of the embedded GDSC data to learn")
    demo.add_argument(
        "--n-cells",
        type=_integer_at_least(DEMO_MIN_CELLS, " (the demo embeds the cells with PCA and UMAP)"),
        default=3000,
        help=f"cells in the semi-synthetic tumour (at least {DEMO_MIN_CELLS})",
    )
    demo.add_argument(
        "--mode", default=DEMO_MODES[0], choices=DEMO_MODES, help="kind of tumour (sctl.datasets.tumor's `mode`)"
    )
    demo.add_argument(
        "--methods",
        default=",".join(DEMO_METHODS),
        help=(
            "comma-separated methods of sctl.tl.predict_response to compare: decomposed_ridge (the default), "
            "ensemble, the transfer models (atsdp, pathway_transfer) or classifying baselines (logreg, rf, ...); the "
            "first one's predictions are written to demo.h5ad"
        ),
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the tumour and the classifiers")
    demo.add_argument(
        "--threads",
        type=_integer_at_least(1),
        default=1,
        help="torch threads of the deep models: their float sums, and so their figures, depend on it",
    )
    demo.add_argument("--out", type=Path, default=Path("sctl_demo"), help="output folder")
    demo.set_defaults(run=_run_demo, parser=demo)


def _add_benchmark(commands: Any) -> None:
    bench = _subcommand(
        commands,
        "benchmark",
        "run the scripts of benchmarks/ (accuracy, speed, memory, scale) and write one Markdown report",
        description=(
            "Run the benchmark scripts of the source checkout (benchmarks/ beside src/) one after the other, each "
            "as a subprocess of this Python in its own folder, and write report.md into the output folder: the "
            "machine (CPU, cores, RAM, OS, GPU), the versions of python, sctl, torch, scvi-tools, scanpy, anndata, "
            "..., the git commit and the seeds, then per script its command line, wall time, exit status and the "
            "tables it printed, verbatim. A failing script is recorded (with the tail of its stderr) and the others "
            "still run; the exit code is then 1. The scripts are not shipped in the wheel: run this from a clone."
        ),
    )
    bench.add_argument("--only", default=None, help="comma-separated scripts to run (default: all; see --list)")
    bench.add_argument(
        "--quick",
        action="store_true",
        help="each script's reduced setting (its --quick flag, else reduced options): minutes instead of hours",
    )
    bench.add_argument("--out", type=Path, default=Path("sctl_benchmark"), help="output folder")
    bench.add_argument("--list", action="store_true", help="list the scripts (and their quick arguments) and exit")
    bench.add_argument(
        "--benchmarks-dir",
        type=Path,
        default=None,
        help="folder of the scripts (default: $SCTL_BENCHMARKS_DIR, else benchmarks/ of the source checkout)",
    )
    bench.add_argument("--timeout", type=float, default=None, help="seconds allowed per script (default: none)")
    bench.set_defaults(run=_run_benchmark)


def _step(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:6.1f}s] {message}", flush=True)


def _run_demo(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    from sctl.tl._response_methods import ENSEMBLE, TRANSFER_METHODS

    deep = bool({ENSEMBLE, *TRANSFER_METHODS} & set(args.methods))  # ATSDPNet is a member of the ensemble
    _step("importing sctl, scanpy" + (", torch and scvi-tools" if deep else ""), start)
    with _quiet_demo(deep, args.threads):
        return _demo(args, start, deep)


@contextlib.contextmanager
def _quiet_demo(deep: bool, threads: int) -> Iterator[None]:
    """Print each distinct warning once, silence Lightning's banners and scvi-tools' notes and set torch's threads.

    All are restored on exit. A warning shows as ``warning: <text>``, without the file and line that raised it. A
    fixed thread count makes the deep models' figures the same from run to run and from machine to machine of the
    same kind (torch's sums are split by thread).

    Lightning sets its loggers to INFO when it is imported, so with ``deep`` models it is imported before they are
    silenced. A warning is told apart by its category and text, not by where it is raised (the "small panel"
    warning of the gene alignment comes from each classifier).
    """
    if deep:
        import lightning.pytorch  # noqa: F401
        import scvi  # noqa: F401
        import torch

        torch_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    shown: set[tuple[type[Warning], str]] = set()
    format_warning = warnings.formatwarning
    with warnings.catch_warnings():  # restores warnings.showwarning on exit
        show = warnings.showwarning

        def show_once(message: Warning | str, category: type[Warning], *where: object) -> None:
            if (category, str(message)) not in shown:
                shown.add((category, str(message)))
                show(message, category, *where)

        warnings.showwarning = show_once
        # Lightning's own use of a torch API it deprecates: nothing the user can act on
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        warnings.formatwarning = _format_warning
        try:
            yield
        finally:
            warnings.formatwarning = format_warning
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
            if deep:
                torch.set_num_threads(torch_threads)


def _format_warning(message: Warning | str, category: type[Warning], *where: object) -> str:
    """A warning as a command line shows it: its text, without the file and source line that raised it."""
    return f"warning: {message}\n"


def _demo(args: argparse.Namespace, start: float, deep: bool) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scanpy as sc

    import sctl

    args.out.mkdir(parents=True, exist_ok=True)

    _step("loading real GDSC cell lines (sctl.datasets.gdsc)", start)
    bulk = sctl.datasets.gdsc()
    _step(f"simulating a semi-synthetic {args.mode} tumour of {args.n_cells} cells for {args.drug}", start)
    cells = sctl.datasets.realistic_tumor(args.drug, mode=args.mode, n_cells=args.n_cells, seed=args.seed)
    held_out = cells.uns["sctl_tumor"]["held_out_lines"]
    reference = bulk[~bulk.obs_names.isin(held_out)].copy()
    _step(f"training on {reference.n_obs} lines ({len(held_out)} lines behind the tumour held out)", start)

    rows = []
    for method in reversed(args.methods):  # the first method is written last, so its call stays in `cells`
        with contextlib.redirect_stdout(io.StringIO()):  # scvi-tools prints why early stopping ended a training
            sctl.tl.predict_response(
                cells,
                reference=reference,
                drug=args.drug,
                method=method,
                seed=args.seed,
                train_kwargs={"enable_progress_bar": False},  # the deep models (ATSDPNet is in the ensemble)
            )
        proba = cells.obs["sctl_response_proba"]
        scored = proba.notna().to_numpy()  # cells with too few detected genes are left unscored (NaN)
        scores = sctl.metrics.classification_report(cells.obs["response"][scored], proba[scored])
        rows.append({"method": method, **scores, "n_unscored": int((~scored).sum())})
        _step(f"{method}: AUROC {scores['auroc']:.3f} against the ground truth ({scored.sum()} cells scored)", start)
    rows.reverse()

    _step("embedding the cells (PCA, neighbours, UMAP)", start)
    sc.pp.pca(cells, random_state=args.seed)
    sc.pp.neighbors(cells, random_state=args.seed)
    with warnings.catch_warnings():  # a tumour of several clones may give a graph in pieces: expected here
        warnings.filterwarnings("ignore", message="Graph is not fully connected", category=UserWarning)
        sc.tl.umap(cells, random_state=args.seed)
    fig = sctl.pl.response(cells, basis="umap", extra=["response"], save=args.out / "umap_response.png")
    plt.close(fig)

    cells.write_h5ad(args.out / "demo.h5ad")
    report = {
        "drug": args.drug,
        "mode": args.mode,
        "n_cells": cells.n_obs,
        "n_reference_lines": reference.n_obs,
        "held_out_lines": list(held_out),
        "label_rule": cells.uns["sctl_response"]["params"]["label_rule"],
        "seed": args.seed,
        "metrics": rows,
    }
    (args.out / "metrics.json").write_text(json.dumps(report, indent=2))
    _print_table(rows)
    print(_trust_note(cells), end="\n\n")
    print(_reproducibility_note(deep), end="\n\n")
    _step(f"wrote demo.h5ad, metrics.json and umap_response.png to {args.out}/", start)
    return 0


def _run_benchmark(args: argparse.Namespace) -> int:
    from sctl._benchmark import list_benchmarks, run_benchmarks

    try:
        if args.list:
            rows = list_benchmarks(args.benchmarks_dir)
            width = max((len(name) for name, _, _ in rows), default=10)
            for name, quick, summary in rows:
                print(f"{name:<{width}}  {summary}\n{'':<{width}}  --quick runs: {quick}")
            return 0
        report, results = run_benchmarks(
            args.out, only=args.only, quick=args.quick, benchmarks_dir=args.benchmarks_dir, timeout=args.timeout
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"sctl benchmark: {error}", file=sys.stderr)
        return 2
    failed = [r.name for r in results if not r.ok]
    print(f"wrote {report}" + (f"; failed: {', '.join(failed)}" if failed else f"; {len(results)} script(s) ok"))
    return 1 if failed else 0


def _reproducibility_note(deep: bool) -> str:
    """Where the demo's figures hold: the same seed gives the same numbers on one machine, not across machines."""
    note = "The same --seed gives the same figures on this machine"
    if deep:  # a deep model's float sums, and so its training, depend on the CPU, the BLAS and the thread count
        note += (
            " with the same --threads; on another kind of CPU or BLAS library the deep model's, and so the "
            "ensemble's, may differ by a few hundredths"
        )
    return note + "."


def _trust_note(cells: AnnData) -> str:
    """What the first method could not judge: unscored cells and cells outside the reference's domain."""
    unscored = int(cells.obs["sctl_response_proba"].isna().sum())
    outside = int((~cells.obs["sctl_in_domain"].astype(bool)).sum()) - unscored
    return (
        f"Metrics are over the scored cells: {unscored} of {cells.n_obs} cells had too few detected genes and were "
        f"left unscored (NaN); {outside} scored cells lie outside the reference's domain and are called "
        "'uncertain' (obs['sctl_in_domain'])."
    )


def _print_table(rows: list[dict]) -> None:
    columns = ["auroc", "ap", "f1", "accuracy", "precision", "recall"]
    print()
    width = max(12, *(len(row["method"]) + 1 for row in rows))
    print(f"{'method':<{width}}" + "".join(f"{c:>10}" for c in columns))
    for row in rows:
        print(f"{row['method']:<{width}}" + "".join(f"{row[c]:>10.3f}" for c in columns))
    print()


if __name__ == "__main__":
    sys.exit(main())
