"""sctl.metrics."""
