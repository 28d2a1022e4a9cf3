"""Command-line seeds shared by the benchmark scripts (a helper module: ``sctl benchmark`` does not run it)."""


def seeds_arg(text: str) -> list[int]:
    """Seeds from ``"0-4"`` (a range, both ends included) or ``"0,2"`` (a list)."""
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]
