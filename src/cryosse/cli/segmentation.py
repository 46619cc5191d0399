"""Model commands: segment a map, score another tool's segmentation, ship a run's model as
the packaged default."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryosse.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OUT_OF_RESOURCES,
    UsageError,
    load_config,
    os_error_exit,
    subcommand,
    unit_interval,
)
from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.reasons import CurationError
from cryosse.curate.settings import CurationSettings

EXAMPLES = {
    "segment": "cryosse segment emd_1234.map.gz --out out/ --resolution 6.1",
    "evaluate": "cryosse evaluate --pred-helix tool_helix.mrc --pred-sheet tool_sheet.mrc "
    "--map emd_8518.map.gz --structure 5u8s.cif --emdb EMD-8518 --pdb 5u8s",
    "ship-model": "cryosse ship-model results/offline --loss FL_DL",
    "figure": "cryosse figure emd_8518_sse/",
}


def segment_command(args: argparse.Namespace) -> int:
    """`cryosse segment`: one line per problem; exit 1 for bad input, 2 out of memory or disk
    (cryosse.cli.common's exit codes)."""
    import warnings

    from cryosse.core.output_folder import FolderError
    from cryosse.core.reasons import Reason
    from cryosse.learn.checkpoint import CheckpointError
    from cryosse.segment.predict import ResolutionWarning, SegmentError, UnmaskedMapWarning

    show = warnings.showwarning

    def one_line(message: Warning | str, category: type[Warning], *rest: Any, **named: Any) -> None:
        if issubclass(category, ResolutionWarning | UnmaskedMapWarning):  # one line of ours
            print(f"cryosse segment: warning: {message}", file=sys.stderr)
        else:
            show(message, category, *rest, **named)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", ResolutionWarning)
            warnings.simplefilter("always", UnmaskedMapWarning)
            warnings.showwarning = one_line
            result = _segment(args, sys.stderr.isatty())
    except (SegmentError, CheckpointError, FolderError) as exc:
        print(f"cryosse segment: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CurationError as exc:
        print(f"cryosse segment: {exc.message}", file=sys.stderr)
        # a map whose grid does not fit the memory budget is a resource limit, not bad input
        return EXIT_OUT_OF_RESOURCES if exc.reason == Reason.MAP_TOO_LARGE else EXIT_BAD_INPUT
    except MemoryError:
        print(
            "cryosse segment: out of memory: pass a smaller --max-memory or --tile-size, or "
            "a --box",
            file=sys.stderr,
        )
        return EXIT_OUT_OF_RESOURCES
    except OSError as exc:
        return os_error_exit("segment", exc)
    _print_segment_result(result)
    return 0


def _segment(args: argparse.Namespace, tty: bool) -> Any:
    from cryosse.segment.predict import map_stem, segment_map

    return segment_map(
        args.map,
        out_dir=args.out or f"{map_stem(args.map)}_segmentation",
        model=args.model,
        box=args.box,
        device=args.device,
        tile_size=args.tile_size,
        overlap=args.overlap,
        max_memory=args.max_memory,
        batch_size=args.batch_size,
        on_input_grid=args.on_input_grid,
        bf16=not args.no_bf16,
        cpu_bf16=args.cpu_bf16,
        channels_last=args.channels_last,
        threads=args.threads,
        progress=args.progress or tty,
        resolution=args.resolution,
        structure=args.structure,
        contour=args.contour,
        mask=args.mask,
        confident=args.confident,
    )


def _print_segment_result(result: Any) -> None:
    from cryosse.learn.checkpoint import default_model_card

    s = result.summary
    out = Path(result.files["summary"]).parent
    print(
        f"helix: {s['helix']['volume_A3']:.0f} Å³ ({s['helix']['voxels']} voxels), "
        f"sheet: {s['sheet']['volume_A3']:.0f} Å³ ({s['sheet']['voxels']} voxels)"
    )
    print(
        f"{s['tiling']['tiles']} tiles of {'x'.join(map(str, s['tiling']['tile_shape_zyx']))} "
        f"on {s['device']['type']}, {s['timings_s']['total']:.1f} s; outputs in {out}"
    )
    res = s["resolution"]
    low, high = res["trained_range_A"]
    value = "unknown" if res["value_A"] is None else f"{res['value_A']:g} Å"
    print(f"resolution: {value} ({res['source']}); the model was trained on {low:g}-{high:g} Å")
    print(f"ChimeraX: open {result.files['chimerax']}")
    if "residues" in s:
        print(_residue_line(s["residues"], result.files["residues"]))
    if s["model"]["default"] and default_model_card().get("summary"):
        print(f"default model: {default_model_card()['summary']}")


def _residue_line(residues: dict[str, Any], path: Path) -> str:
    counts = residues["predicted"]
    line = (
        f"residues: {residues['residues']} ({counts['helix']} helix, {counts['sheet']} sheet, "
        f"{counts['background']} background, {counts['outside']} outside the map) in {path}"
    )
    f1 = residues.get("residue_f1_vs_dssp")
    if f1:
        shown = ", ".join(f"{k} {'NA' if v is None else f'{v:.2f}'}" for k, v in f1.items())
        line += f"; residue F1 against the model's DSSP: {shown}"
    return line


def _evaluation_pairs(args: argparse.Namespace) -> list[dict[str, str]]:
    """The map / model / prediction sets to score: the one given by the options, or the rows of
    --batch TSV (columns pred_helix pred_sheet map structure [emdb pdb]; relative paths are
    read from the TSV's folder)."""
    from cryosse.core.tsv import read_tsv

    single = (args.pred_helix, args.pred_sheet, args.map)
    if args.batch:
        if any(single) or args.structure or args.model_deprecated or args.emdb or args.pdb:
            raise UsageError("--batch lists every map: give no --pred-*, --map, --structure")
        table = Path(args.batch)
        if not table.is_file():
            raise UsageError(f"--batch {table}: no such file")
        rows = read_tsv(table)
        needed = ("pred_helix", "pred_sheet", "map", "structure")
        if not rows or any(column not in rows[0] for column in needed):
            raise UsageError(f"--batch {table}: needs a header with columns {' '.join(needed)}")
        base = table.parent
        return [
            {k: str(base / v) if k in needed else v for k, v in row.items() if v is not None}
            for row in rows
        ]
    if args.model_deprecated:  # --model is a checkpoint everywhere else (segment)
        print(
            "cryosse evaluate: warning: --model is deprecated here, use --structure (the "
            "atomic model)",
            file=sys.stderr,
        )
    structure = args.structure or args.model_deprecated
    if not structure or (args.structure and args.model_deprecated):
        raise UsageError("give the atomic model once, with --structure")
    if not all(single):
        raise UsageError("give --pred-helix, --pred-sheet and --map (or --batch TSV)")
    pair = {"pred_helix": args.pred_helix, "pred_sheet": args.pred_sheet, "map": args.map}
    return [{**pair, "structure": structure, "emdb": args.emdb or "", "pdb": args.pdb or ""}]


def evaluate_command(args: argparse.Namespace) -> int:
    """Score another tool's helix/sheet maps against our labels of the map/model pair(s)."""
    from cryosse.core.grid import BASELINES
    from cryosse.core.ids import normalize_emdb_id, normalize_pdb_id
    from cryosse.curate.settings import settings_section
    from cryosse.evaluate.external import (
        FULL_COVERAGE,
        UNMODELLED_DISTANCE_A,
        UNMODELLED_WARNING,
        PredictionError,
        evaluate_external,
        unmodelled_fraction,
        weighted_aggregate,
    )

    pairs = _evaluation_pairs(args)
    if args.out and Path(args.out).is_dir():  # refused before the scoring, not after it
        raise UsageError(f"--out {args.out} is a folder: name the TSV file to write")
    if args.out and not Path(args.out).parent.is_dir():
        raise UsageError(f"--out {args.out}: the folder {Path(args.out).parent} does not exist")
    settings = CurationSettings.from_config(settings_section(load_config(args.config)))
    batch = bool(args.batch)
    rows: list[dict[str, Any]] = []
    for pair in pairs:
        where = f"{Path(pair['map']).name}: " if batch else ""
        try:
            # the sample ids name the entry when it is known (else EMD-0000_pdb_00000000_<chain>)
            ids = {"emdb_id": normalize_emdb_id(pair["emdb"])} if pair.get("emdb") else {}
            if pair.get("pdb"):
                ids["pdb_id"] = normalize_pdb_id(pair["pdb"])
            scored, log = evaluate_external(
                pair["pred_helix"],
                pair["pred_sheet"],
                pair["map"],
                pair["structure"],
                settings,
                threshold=args.threshold,
                baselines=() if args.no_baselines else BASELINES,
                **ids,
            )
            unmodelled, predicted = unmodelled_fraction(
                pair["pred_helix"], pair["pred_sheet"], pair["structure"], args.threshold
            )
        except CurationError as exc:  # a prediction map refused from its header, a bad id
            print(f"cryosse evaluate: {where}{exc.reason}: {exc.message}", file=sys.stderr)
            return 1
        except PredictionError as exc:  # predictions in another frame than the map
            print(f"cryosse evaluate: {where}{exc}", file=sys.stderr)
            return 1
        for logged in log:
            if logged.status == "excluded":
                print(
                    f"excluded {where}{logged.level} {logged.chain or logged.pdb_id}: "
                    f"{logged.reason}: {logged.message}",
                    file=sys.stderr,
                )
        if unmodelled > UNMODELLED_WARNING:
            print(
                f"warning: {where}{unmodelled:.0%} of the {predicted} predicted helix/sheet "
                f"voxels lie farther than {UNMODELLED_DISTANCE_A:g} Å from every Cα of "
                f"{Path(pair['structure']).name}: density the model does not cover (unmodelled "
                "chains, neighbours in a full map) — predictions there are not scored against "
                "anything, and whatever reaches the scored boxes counts as false positives",
                file=sys.stderr,
            )
        for row in scored:
            row["map"] = Path(pair["map"]).name
            row["unmodelled_fraction"] = unmodelled
        rows += scored
    columns = ["sample_id", "chain"] + [
        f"{level}_{what}_{cls}"
        for level in ("voxel", "residue")
        for cls in SCORED_CLASSES
        for what in ("f1", "precision", "recall")
    ]
    columns += ["true_helix_voxels", "true_sheet_voxels", "predictor", "coverage"]
    if batch:
        columns = ["map", *columns, "unmodelled_fraction"]
        aggregate = weighted_aggregate(rows)
        for row in aggregate:
            row["map"], row["unmodelled_fraction"] = "ALL (weighted by true voxels)", None
        rows += aggregate
    for row in rows:
        if row["coverage"] < FULL_COVERAGE and not str(row["sample_id"]).startswith("ALL"):
            part = f"the predictions cover {row['coverage']:.0%} of its central box"
            print(f"warning: {row['sample_id']}: {part}; the rest is background", file=sys.stderr)
    lines = ["\t".join(columns)]
    for row in rows:
        cells = [row[c] for c in columns]
        lines.append(
            "\t".join(
                "NA" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v) for v in cells
            )
        )
    text = "\n".join(lines) + "\n"
    if args.out:
        write_text_atomic(args.out, text)
    print(text, end="")
    return 0 if rows else 1


def figure_command(args: argparse.Namespace) -> int:
    """The QC slices of a segmentation output folder (cryosse.segment.figure)."""
    from cryosse.core.reasons import CurationError
    from cryosse.segment.figure import draw_figure
    from cryosse.segment.predict import SegmentError

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
    except CurationError as exc:  # an unreadable map or model
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
        print(f"cryosse ship-model: {exc}", file=sys.stderr)
        return 1
    weighted = card["test"]["weighted"]
    print(
        f"shipped {card['training']['run_id']} ({card['model']['parameters']} parameters) "
        f"to {Path(args.package) / 'models/default.pt'}; test weighted F1: "
        + ", ".join(f"{k} {'NA' if v is None else f'{v:.3f}'}" for k, v in weighted.items())
    )
    print(card["summary"])
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    segment_parser = subcommand(
        sub,
        "segment",
        EXAMPLES["segment"],
        help="helix / beta-sheet maps of your own map with a trained model",
        description="Segment a map (.mrc/.map, optionally .gz; any voxel size and axis order) "
        "into helix and beta-sheet probability maps and masks, in the map's frame, and a ChimeraX "
        "command file: open OUT/<map>.cxc in ChimeraX to see them on the map.",
    )
    segment_parser.add_argument("map", help="the cryo-EM map")
    segment_parser.add_argument("--model", help="checkpoint (best.pt); default: the packaged model")
    segment_parser.add_argument("--out", help="output folder (default: <map name>_segmentation)")
    segment_parser.add_argument(
        "--resolution",
        type=float,
        help="the map's resolution in Å (default: from an EMDB header emd-NNNN-v30.xml beside "
        "the map); a warning when outside the model's training range",
    )
    segment_parser.add_argument(
        "--box",
        nargs=6,
        type=int,
        metavar=("I1", "J1", "K1", "I2", "J2", "K2"),
        help="region of the map's grid, 0-based x y z indices of the first and last voxel, "
        "ends included (as ChimeraX: volume #1 region i1,j1,k1,i2,j2,k2)",
    )
    segment_parser.add_argument(
        "--structure",
        help="an atomic model fitted into the map (mmCIF/PDB): writes <map>_residues.tsv, the "
        "predicted class and probabilities per residue (beside its DSSP class with mkdssp)",
    )
    segment_parser.add_argument(
        "--contour",
        type=float,
        help="the map's contour level (default: the EMDB header's recommended one): the .cxc "
        "shows the map at it, and --mask uses it",
    )
    segment_parser.add_argument(
        "--mask",
        action="store_true",
        help="zero the density below the contour before segmenting: for a full, unmasked map "
        "(cryosse warns when a map looks like one), so solvent and neighbours are not called",
    )
    segment_parser.add_argument(
        "--confident",
        type=unit_interval,
        metavar="P",
        help="also write <map>_helix_confident.mrc and <map>_sheet_confident.mrc: 1 where the "
        "probability is at least P (e.g. 0.9), the voxels the model is sure of",
    )
    segment_parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    segment_parser.add_argument(
        "--on-input-grid",
        action="store_true",
        help="maps on the input grid instead of the 1 Å grid",
    )
    segment_parser.add_argument(
        "--tile-size", type=int, help="tile side in voxels (default: memory)"
    )
    segment_parser.add_argument("--overlap", type=int, help="tile overlap in voxels (default: 44)")
    segment_parser.add_argument(
        "--max-memory", help="memory for the network, e.g. 4G (default: auto)"
    )
    segment_parser.add_argument("--batch-size", type=int, help="tiles per forward (default: auto)")
    segment_parser.add_argument("--no-bf16", action="store_true", help="fp32 on a GPU too")
    segment_parser.add_argument(
        "--cpu-bf16", action="store_true", help="bf16 on a CPU (only with AVX-512 BF16 / AMX)"
    )
    segment_parser.add_argument(
        "--channels-last", action="store_true", help="channels_last_3d layout"
    )
    segment_parser.add_argument("--threads", type=int, help="CPU threads for torch")
    segment_parser.add_argument(
        "--progress", action="store_true", help="progress bar even without a TTY"
    )
    segment_parser.set_defaults(func=segment_command)
    evaluate = subcommand(
        sub, "evaluate", EXAMPLES["evaluate"], help="score another tool's helix/sheet maps"
    )
    evaluate.add_argument("--pred-helix", help="helix map (binary or probability)")
    evaluate.add_argument("--pred-sheet", help="sheet map, any grid")
    evaluate.add_argument("--map", help="the cryo-EM map the tool segmented")
    evaluate.add_argument(
        "--batch",
        help="a TSV of many maps (columns pred_helix pred_sheet map structure, optional emdb "
        "pdb; paths relative to the TSV): per-map rows, then one row per predictor over all, "
        "weighted by true voxels",
    )
    evaluate.add_argument("--structure", help="the fitted atomic model (mmCIF or PDB)")
    evaluate.add_argument("--model", dest="model_deprecated", help="deprecated: --structure")
    evaluate.add_argument("--emdb", help="the map's EMDB id, for the sample ids (EMD-1234)")
    evaluate.add_argument("--pdb", help="the model's PDB id, for the sample ids (5u8s)")
    evaluate.add_argument("--config", help="workflow config (curation settings)")
    evaluate.add_argument(
        "--threshold",
        type=unit_interval,
        help="class rule for maps that are not probabilities: helix where helix ≥ T and ≥ sheet, "
        "sheet where sheet ≥ T (default: the most probable of background = 1 − helix − sheet, "
        "helix, sheet, which scores a tool's probability maps and its masks alike)",
    )
    evaluate.add_argument("--out", help="also write the TSV here")
    evaluate.add_argument(
        "--no-baselines",
        action="store_true",
        help="no baseline rows (threshold, hessian, all_helix)",
    )
    evaluate.set_defaults(func=evaluate_command)
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
