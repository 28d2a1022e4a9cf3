"""sctl.tl."""
