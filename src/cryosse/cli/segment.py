"""`cryosse segment`: helix / β-sheet maps of a user's map with a trained model
(cryosse.segment.predict), its options and what it prints. Its refusals become one line in
cryosse.cli.main."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from cryosse.cli.common import UsageError, subcommand, unit_interval

EXAMPLE = "cryosse segment emd_1234.map.gz --out out/ --resolution 6.1"


def parse_memory(text: str) -> int:
    """Bytes from '512M', '4G', '4GiB', '2.5g' or a plain number of bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in units else (cleaned, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise UsageError(f"--max-memory {text!r}: expected e.g. 512M, 4G or bytes") from None
    if not math.isfinite(value) or value < 2**20:
        raise UsageError(f"--max-memory {text!r}: at least 1M")
    return int(value)


def segment_command(args: argparse.Namespace) -> int:
    """`cryosse segment`, with our warnings as one line each (exit codes: cryosse.cli.main)."""
    import warnings

    from cryosse.segment.errors import ResolutionWarning, UnmaskedMapWarning

    show = warnings.showwarning

    def one_line(message: Warning | str, category: type[Warning], *rest: Any, **named: Any) -> None:
        if issubclass(category, ResolutionWarning | UnmaskedMapWarning):  # one line of ours
            print(f"cryosse segment: warning: {message}", file=sys.stderr)
        else:
            show(message, category, *rest, **named)

    with warnings.catch_warnings():
        warnings.simplefilter("always", ResolutionWarning)
        warnings.simplefilter("always", UnmaskedMapWarning)
        warnings.showwarning = one_line
        result = _segment(args, sys.stderr.isatty())
    _print_segment_result(result)
    return 0


def _segment(args: argparse.Namespace, tty: bool) -> Any:
    from cryosse.segment.execution import SegmentOptions
    from cryosse.segment.naming import map_stem
    from cryosse.segment.predict import segment_map

    options = SegmentOptions(
        device=args.device,
        bf16=not args.no_bf16,
        cpu_bf16=args.cpu_bf16,
        channels_last=args.channels_last,
        threads=args.threads,
        tile_size=args.tile_size,
        overlap=args.overlap,
        max_memory=None if args.max_memory is None else parse_memory(args.max_memory),
        batch_size=args.batch_size,
        progress=args.progress or tty,
        flips=args.flips,
    )
    return segment_map(
        args.map,
        args.out or f"{map_stem(args.map)}_segmentation",
        None if args.model is None else args.model[0] if len(args.model) == 1 else args.model,
        options,
        box=args.box,
        structure=args.structure,
        resolution=args.resolution,
        contour=args.contour,
        mask=args.mask,
        confident=args.confident,
        on_input_grid=args.on_input_grid,
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = subcommand(
        sub,
        "segment",
        EXAMPLE,
        help="helix / beta-sheet maps of your own map with a trained model",
        description="Segment a map (.mrc/.map, optionally .gz; any voxel size and axis order) "
        "into helix and beta-sheet probability maps and masks, in the map's frame, and a ChimeraX "
        "command file: open OUT/<map>.cxc in ChimeraX to see them on the map.",
    )
    _add_what_arguments(parser)
    _add_how_arguments(parser)
    parser.set_defaults(func=segment_command)


def _add_what_arguments(parser: argparse.ArgumentParser) -> None:
    """The map, the model and what to write."""
    parser.add_argument("map", help="the cryo-EM map")
    parser.add_argument(
        "--model",
        action="append",
        help="checkpoint (best.pt); given more than once: a seed ensemble (the mean of their "
        "probabilities); default: the packaged model",
    )
    parser.add_argument("--out", help="output folder (default: <map name>_segmentation)")
    parser.add_argument(
        "--resolution",
        type=float,
        help="the map's resolution in Å (default: from an EMDB header emd-NNNN-v30.xml beside "
        "the map); a warning when outside the model's training range",
    )
    parser.add_argument(
        "--box",
        nargs=6,
        type=int,
        metavar=("I1", "J1", "K1", "I2", "J2", "K2"),
        help="region of the map's grid, 0-based x y z indices of the first and last voxel, "
        "ends included (as ChimeraX: volume #1 region i1,j1,k1,i2,j2,k2)",
    )
    parser.add_argument(
        "--structure",
        help="an atomic model fitted into the map (mmCIF/PDB): writes <map>_residues.tsv, the "
        "predicted class and probabilities per residue (beside its DSSP class with mkdssp)",
    )
    parser.add_argument(
        "--contour",
        type=float,
        help="the map's contour level (default: the EMDB header's recommended one): the .cxc "
        "shows the map at it, and --mask uses it",
    )
    parser.add_argument(
        "--mask",
        action="store_true",
        help="zero the density below the contour before segmenting: for a full, unmasked map "
        "(cryosse warns when a map looks like one), so solvent and neighbours are not called",
    )
    parser.add_argument(
        "--confident",
        type=unit_interval,
        metavar="P",
        help="also write <map>_helix_confident.mrc and <map>_sheet_confident.mrc: 1 where the "
        "probability is at least P (e.g. 0.9), the voxels the model is sure of",
    )


def _add_how_arguments(parser: argparse.ArgumentParser) -> None:
    """The grid of the outputs, the device, the tiles and the memory
    (cryosse.segment.execution.SegmentOptions)."""
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--on-input-grid",
        action="store_true",
        help="maps on the input grid instead of the 1 Å grid",
    )
    parser.add_argument("--tile-size", type=int, help="tile side in voxels (default: memory)")
    parser.add_argument("--overlap", type=int, help="tile overlap in voxels (default: 44)")
    parser.add_argument("--max-memory", help="memory for the network, e.g. 4G (default: auto)")
    parser.add_argument("--batch-size", type=int, help="tiles per forward (default: auto)")
    parser.add_argument("--no-bf16", action="store_true", help="fp32 on a GPU too")
    parser.add_argument(
        "--cpu-bf16", action="store_true", help="bf16 on a CPU (only with AVX-512 BF16 / AMX)"
    )
    parser.add_argument("--channels-last", action="store_true", help="channels_last_3d layout")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument(
        "--flips",
        action="store_true",
        help="test-time flips: the mean over 8 mirror images (8x the time)",
    )
    parser.add_argument("--progress", action="store_true", help="progress bar even without a TTY")
