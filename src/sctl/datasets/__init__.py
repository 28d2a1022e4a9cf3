"""sctl.datasets."""
