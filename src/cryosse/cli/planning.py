"""Planning command: what a run of a config will cost, before anything is downloaded."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cryosse.cli.common import DEFAULT_CONFIG, UsageError, load_config, subcommand

if TYPE_CHECKING:
    from cryosse.acquire.estimate import Estimate

EXAMPLES = {"estimate": "cryosse estimate --config config/config.yaml"}
ESTIMATE_HELP = "entries, download, disk, CPU-hours and GPU-hours of a run, before it starts"


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: a positive finite number of `kind`, else a one-line refusal."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (0 < value < math.inf):
            raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number")
        return value

    return parse


def _listed(config: dict) -> tuple[Estimate | None, str]:
    """The entries the workflow would read (the config's `entries:`, then the rows of its
    entries_file, sizes from the file), or None before `cryosse search` has written the list."""
    from cryosse.acquire.estimate import estimate_entries
    from cryosse.io.entries import EntryRecord, read_entry_table

    records = [EntryRecord(emdb_id=e) for e in config.get("entries") or []]
    table = config.get("entries_file")
    sources = ["the config's entries: list"] if records else []
    if table and Path(table).is_file():
        records += read_entry_table(table)
        sources.append(f"the entry list {table}")
    if not records:
        missing = f"{table} does not exist yet" if table else "the config lists no entries"
        return None, missing
    # an id in both counts once, with the list's row (it records the map size)
    unique = {r.emdb_id.upper(): r for r in records}
    return estimate_entries(list(unique.values())), " and ".join(sources)


def estimate_command(args: argparse.Namespace) -> int:
    """The data set from the entry list (or --entries/--map-mb), the samples from the run's
    manifest once curated (or --samples), the training grid from the config."""
    from cryosse.acquire.estimate import estimate_count
    from cryosse.acquire.run_estimate import (
        GPU_STEP,
        StepTime,
        estimate_run,
        run_samples,
        split_samples,
    )

    config = load_config(args.config, DEFAULT_CONFIG)
    proportions = dict(config["splits"]["proportions"])
    if args.map_mb is not None and args.entries is None:
        raise UsageError("--map-mb goes with --entries N")
    data: Estimate | None
    if args.entries is not None:
        data = estimate_count(args.entries, args.map_mb)
        size = f"{args.map_mb:g} MB per map" if args.map_mb else "map size not given"
        source = f"--entries {args.entries}, {size}: planning figures you gave"
    else:
        data, source = _listed(config)
    results = Path(f"results/{config['run']}")
    manifest = results / "manifest.tsv"
    if args.samples is not None:
        samples = split_samples(
            args.samples, proportions, "--samples, shared by splits.proportions"
        )
    elif manifest.is_file():
        samples = run_samples(manifest, results / "splits" / "main.tsv", proportions)
    else:
        samples = None
    step = GPU_STEP
    if args.step_ms is not None:
        step = StepTime(args.gpu_name, args.step_ms / 1000, args.step_size, "given with --step-ms")
    print("\n".join(estimate_run(config, data, source, samples, step).lines()))
    return 0


# The planning figures one may give instead of the config's, each a positive number.
_POSITIVE_OPTIONS: tuple[tuple[str, Callable[[str], float], str], ...] = (
    ("--entries", int, "plan for N entries not listed yet (default: the config's entry list)"),
    ("--map-mb", float, "with --entries: MB per map"),
    ("--samples", int, "curated samples (default: the run's manifest, else from the entries)"),
    (
        "--step-ms",
        float,
        "your GPU's training step, ms (benchmarks/train_step.py; default: H100 31 ms/112³)",
    ),
)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    estimate = subcommand(sub, "estimate", EXAMPLES["estimate"], help=ESTIMATE_HELP)
    estimate.add_argument("--config", help=f"workflow config (YAML; default: {DEFAULT_CONFIG})")
    for flag, kind, text in _POSITIVE_OPTIONS:
        estimate.add_argument(flag, type=_positive(kind), help=text)
    estimate.add_argument(
        "--step-size", type=_positive(int), default=112, help="box side of --step-ms (112)"
    )
    estimate.add_argument("--gpu-name", default="your GPU", help="what --step-ms was measured on")
    estimate.set_defaults(func=estimate_command)
