"""Shared foundations every stage uses: ids, exclusion reasons, atomic writes, hashing,
TSV, the classes, the config loader, the benchmark grid, F1, output folders."""
