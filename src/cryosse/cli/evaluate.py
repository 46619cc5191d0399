"""`cryosse evaluate`: score another tool's helix/sheet maps against our labels of the map/model
pair(s), beside the baselines (cryosse.evaluate.external)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cryosse.cli.common import UsageError, load_config, subcommand, unit_interval
from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.reasons import DataError
from cryosse.curate.settings import CurationSettings

EXAMPLE = (
    "cryosse evaluate --pred-helix tool_helix.mrc --pred-sheet tool_sheet.mrc "
    "--map emd_8518.map.gz --structure 5u8s.cif --emdb EMD-8518 --pdb 5u8s"
)


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


def _score_pair(
    pair: dict[str, str], args: argparse.Namespace, settings: CurationSettings, where: str
) -> list[dict[str, Any]]:
    """One map's rows (the tool's, then the baselines'), with its warnings on stderr."""
    from cryosse.core.ids import normalize_emdb_id, normalize_pdb_id
    from cryosse.core.run_grid import BASELINES
    from cryosse.evaluate.external import (
        UNMODELLED_DISTANCE_A,
        UNMODELLED_WARNING,
        PredictionError,
        evaluate_external,
        unmodelled_fraction,
    )

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
    except DataError as exc:  # a prediction map refused from its header, a bad id
        raise UsageError(f"{where}{exc.reason}: {exc.message}") from exc
    except PredictionError as exc:  # predictions in another frame than the map
        raise UsageError(f"{where}{exc}") from exc
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
    return scored


def _score_table(rows: list[dict[str, Any]], batch: bool) -> str:
    """The TSV of the rows (with, for a batch, one row per predictor over all maps, weighted by
    true voxels); a warning for each sample the predictions do not fully cover."""
    from cryosse.evaluate.external import FULL_COVERAGE, weighted_aggregate

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
    return "\n".join(lines) + "\n"


def evaluate_command(args: argparse.Namespace) -> int:
    """Score another tool's helix/sheet maps against our labels of the map/model pair(s)."""
    from cryosse.curate.settings import settings_section

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
        rows += _score_pair(pair, args, settings, where)
    text = _score_table(rows, batch)
    if args.out:
        write_text_atomic(args.out, text)
    print(text, end="")
    return 0 if rows else 1


def add_parsers(sub: argparse._SubParsersAction) -> None:
    evaluate = subcommand(sub, "evaluate", EXAMPLE, help="score another tool's helix/sheet maps")
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
