"""Simulated and derived maps written as entries of a local mirror (offline training data)."""
