"""Baselines that every deep model is reported beside."""
