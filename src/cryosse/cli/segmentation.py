"""Model commands beside segment and evaluate: the QC figure of a segmentation, and shipping a
run's model as the packaged default."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cryosse.cli.common import UsageError, subcommand

EXAMPLES = {
    "figure": "cryosse figure emd_8518_sse/",
    "ship-model": "cryosse ship-model results/offline --loss FL_DL",
}


def figure_command(args: argparse.Namespace) -> int:
    """The QC slices of a segmentation output folder (cryosse.segment.figure)."""
    from cryosse.core.reasons import DataError
    from cryosse.segment.errors import SegmentError
    from cryosse.segment.figure import draw_figure

    out = Path(args.out_dir)
    if not out.is_dir():
        raise UsageError(f"{out}: not a folder (give the --out folder of cryosse segment)")
    png = Path(args.png) if args.png else None
    try:
        if png is None:
            stem = next(
                (p.name.removesuffix("_labels.mrc") for p in out.glob("*_labels.mrc")), "map"
            )
            png = out / f"{stem}_figure.png"
        draw_figure(out, png, args.structure)
    except SegmentError as exc:
        raise UsageError(str(exc)) from None
    except DataError as exc:  # an unreadable map or model
        raise UsageError(exc.message) from None
    print(f"figure: {png}")
    return 0


def ship_model_command(args: argparse.Namespace) -> int:
    """Make a finished run's model the packaged default (with its model card)."""
    from cryosse.learn.checkpoint import CheckpointError
    from cryosse.segment.default_model import ShipError, refresh_card_figures, ship_default_model

    if args.refresh_card == (args.run is not None) or (args.refresh_card and not args.real_maps):
        raise UsageError("give a run folder, or --refresh-card with --real-maps FIGURES.json")
    try:
        real_maps = json.loads(Path(args.real_maps).read_text()) if args.real_maps else None
        if args.refresh_card:
            assert real_maps is not None
            card = refresh_card_figures(args.package, real_maps)
            print(f"card figures refreshed: {card['summary']}")
            return 0
        card = ship_default_model(args.run, args.package, args.loss, real_maps, args.run_id)
    except (ShipError, CheckpointError, OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    weighted = card["test"]["weighted"]
    print(
        f"shipped {card['training']['run_id']} ({card['model']['parameters']} parameters) "
        f"to {Path(args.package) / 'models/default.pt'}; test weighted F1: "
        + ", ".join(f"{k} {'NA' if v is None else f'{v:.3f}'}" for k, v in weighted.items())
    )
    print(card["summary"])
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    figure = subcommand(
        sub,
        "figure",
        EXAMPLES["figure"],
        help="QC slices of a segmentation: masks and the model's DSSP through the molecule",
    )
    figure.add_argument("out_dir", help="the --out folder of cryosse segment")
    figure.add_argument(
        "--structure",
        help="the fitted model (default: the one given to cryosse segment --structure)",
    )
    figure.add_argument("--png", help="where to write the figure (default: OUT/<map>_figure.png)")
    figure.set_defaults(func=figure_command)
    ship = subcommand(
        sub,
        "ship-model",
        EXAMPLES["ship-model"],
        help="make a run's model the packaged default model",
    )
    ship.add_argument("run", nargs="?", help="a finished workflow run folder, e.g. results/offline")
    ship.add_argument(
        "--refresh-card",
        action="store_true",
        help="no run: replace the shipped card's --real-maps figures with a newer run of "
        "benchmarks/real_maps.py on the same weights (checked by sha256)",
    )
    ship.add_argument("--loss", default="FL_DL", help="whose chosen run to ship (FL_DL)")
    ship.add_argument(
        "--run-id",
        help="ship this run of the folder (a loss-study run, chosen on validation by "
        "benchmarks/loss_study.py) instead of training/best_runs.tsv's choice",
    )
    ship.add_argument("--package", default="src/cryosse", help="the package source folder")
    ship.add_argument(
        "--real-maps",
        help="card figures: the --json of benchmarks/real_maps.py for this run's model "
        "(baselines and DeepSSETracer 1.0 beside it)",
    )
    ship.set_defaults(func=ship_model_command)
