"""sctl.pl."""
