"""Command-line interface: ``sctl demo``."""
