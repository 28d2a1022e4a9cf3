"""Import time and peak memory of ``import sctl`` beside ``import scanpy`` (each in a fresh interpreter, best of N).

Each statement runs ``N`` times in a new ``python -c`` subprocess of this Python; the subprocess times the statement
with ``time.perf_counter`` and reads its own peak resident memory (``ru_maxrss``, the whole interpreter) at the end.
The table gives the best time and the smallest peak over the runs, and each row's ratio to ``import scanpy``.
``sctl --help`` is ``sctl.cli.main(["--help"])``; the last row touches a model class, which loads torch, scvi-tools
and Lightning: the cost ``import sctl`` defers until a model is used. Prints figures, not verdicts.
Run: ``python benchmarks/import_time.py``; ``--quick``: 3 runs per statement instead of 7.
"""

import subprocess
import sys

N_RUNS = 7
if sys.argv[1:] == ["--quick"]:
    N_RUNS = 3
elif sys.argv[1:]:
    sys.exit(f"usage: python {sys.argv[0]} [--quick]")

STATEMENTS = {
    "import anndata": "import anndata",
    "import scanpy": "import scanpy",
    "import sctl": "import sctl",
    "sctl --help": (
        "import contextlib, io, sctl.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    sctl.cli.main(['--help'])"
    ),
    "import sctl; sctl.models.ATSDPNet": "import sctl; sctl.models.ATSDPNet",
}
MEASURE = """
import resource, time
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def measure(statement: str) -> tuple[float, float]:
    """Best seconds and smallest peak RSS (MiB) of ``statement`` over ``N_RUNS`` fresh interpreters."""
    runs = []
    for _ in range(N_RUNS):
        code = MEASURE.format(statement=statement)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        seconds, mib = map(float, out.split()[-2:])
        runs.append((seconds, mib))
    return min(s for s, _ in runs), min(m for _, m in runs)


def main() -> None:
    results = {label: measure(statement) for label, statement in STATEMENTS.items()}
    scanpy_s, scanpy_mib = results["import scanpy"]
    print(f"Import time and peak RSS, best of {N_RUNS} fresh interpreters ({sys.executable})\n")
    print(f"| {'statement':<35} | seconds | peak RSS (MiB) | time / scanpy | RSS / scanpy |")
    print(f"|{'-' * 37}|--------:|---------------:|--------------:|-------------:|")
    for label, (seconds, mib) in results.items():
        print(f"| {label:<35} | {seconds:7.2f} | {mib:14.0f} | {seconds / scanpy_s:13.2f} | {mib / scanpy_mib:12.2f} |")


if __name__ == "__main__":
    main()
