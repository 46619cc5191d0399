"""The `cryosse` command line, one module per command group (`cryosse.cli.main` builds it):
`dataset` (search, add, fetch, curate, summary), `synthetic` (simulate, derive,
offline-mirror), `planning` (estimate), `segment`, `evaluate`, `segmentation` (figure,
ship-model)."""

from cryosse.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
