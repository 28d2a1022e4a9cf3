"""sctl.pp."""
