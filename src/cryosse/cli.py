"""The `cryosse` command line.

    cryosse search [--config config/config.yaml] [--entries config/entries.tsv] [--method helical]
    cryosse add EMD-1234 EMD-5678 [--entries config/entries.tsv]
    cryosse fetch [--config config/config.yaml] [EMD-1234 ...]
    cryosse curate EMD-8518 EMD-6149 --mirror demo/mirror --out results/mine [--config c.yaml]
    cryosse evaluate --pred-helix H.mrc --pred-sheet S.mrc --map M.map.gz --structure C.cif
        (the tool's rows, then the same samples scored by the baselines of cryosse.baselines)
    cryosse summary results/demo/curation_log.tsv
    cryosse simulate STRUCTURES_DIR --mirror results/offline/mirror [--jobs 2]
    cryosse derive --realdata realdata/ --mirror results/offline/mirror
    cryosse offline-mirror --structures DIR --realdata DIR --mirror results/offline/mirror
    cryosse segment MAP [--model CKPT] [--out DIR] [--resolution Å] [--box i1 j1 k1 i2 j2 k2]
    cryosse ship-model results/offline [--loss FL_DL] [--package src/cryosse]
    cryosse version    (cryosse --version: cryosse's alone)

`search` appends the entries an EMDB search finds to the entry list, `add` appends entries by
hand; neither changes a row that exists. `fetch` downloads (into the archive cache) what the
workflow will need. `curate` runs the same package functions as the Snakemake rules, for a few
entries without Snakemake; the workflow is the way to curate a data set.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cryosse import __version__
from cryosse.classes import SCORED_CLASSES
from cryosse.dssp import mkdssp_version
from cryosse.entries import EntryListError, EntryRecord, add_entries
from cryosse.reasons import CurationError, Reason
from cryosse.settings import CurationSettings

# The archive, dataset and search modules (requests, PyYAML: the `pipeline` extra) are imported
# by the subcommands that use them, so `cryosse segment` runs from the core install alone.

DEFAULT_CONFIG = "config/config.yaml"
# The example that ends each subcommand's --help (one command line each).
EXAMPLES = {
    "search": "cryosse search --config config/config.yaml --min 5 --max 10 --method singleparticle",
    "add": "cryosse add EMD-8518 EMD-6149 --entries config/entries.tsv",
    "fetch": "cryosse fetch --config config/config.yaml EMD-8518",
    "curate": "cryosse curate EMD-8518 --mirror demo/mirror --out results/mine",
    "evaluate": "cryosse evaluate --pred-helix tool_helix.mrc --pred-sheet tool_sheet.mrc "
    "--map emd_8518.map.gz --structure 5u8s.cif --emdb EMD-8518 --pdb 5u8s",
    "summary": "cryosse summary results/demo/curation_log.tsv",
    "simulate": "cryosse simulate structures/ --mirror results/offline/mirror --jobs 2",
    "derive": "cryosse derive --realdata realdata/ --mirror results/offline/mirror",
    "offline-mirror": "cryosse offline-mirror --structures structures/ --realdata realdata/ "
    "--mirror results/offline/mirror --jobs 2",
    "segment": "cryosse segment emd_1234.map.gz --out out/ --resolution 6.1",
    "ship-model": "cryosse ship-model results/offline --loss FL_DL",
    "version": "cryosse version",
}


class _ExampleFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual but keeps the example's lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("example:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _unit_interval(text: str) -> float:
    """An argparse type: a number in (0, 1] (NaN, inf, 2 and -1 are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]")
    return value


def _subcommand(
    sub: argparse._SubParsersAction, name: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its example (EXAMPLES)."""
    return sub.add_parser(
        name,
        epilog=f"example:\n  {EXAMPLES[name]}",
        formatter_class=_ExampleFormatter,
        **kwargs,
    )


class UsageError(Exception):
    """A mistake in how cryosse was called (a missing file, no entry list): one line, exit 1."""


def _load_config(path: str | None, fallback: str | None = None) -> dict:
    """A workflow config file, validated against the schema with its defaults filled in, as the
    Snakefile reads it (cryosse.config): a misspelt key stops here as it stops Snakemake. Without
    `path`, `fallback` (the project's config) when it exists, else every default: commands that
    need no config work outside the project folder too."""
    from cryosse.config import ConfigError, load_config

    if not path and fallback and Path(fallback).is_file():
        path = fallback
    try:
        return load_config(path or None)
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _curate(args: argparse.Namespace) -> int:
    from cryosse.dataset import (
        gather,
        run_acquire,
        run_curate,
        settings_section,
        split_entry_ids,
        summarize_log,
    )

    config = _load_config(args.config)
    settings = settings_section(config)
    archive = dict(config.get("archive") or {})
    if args.mirror:
        archive["mirror"] = args.mirror
    out = Path(args.out)
    valid, invalid = split_entry_ids(args.entries)
    for emdb in tqdm(valid, desc="curating", unit="entry", disable=not sys.stderr.isatty()):
        acquired = out / "acquired" / f"{emdb}.json"
        run_acquire(emdb, archive, config["download"], config["resolution"], acquired)
        run_curate(acquired, settings, out / "entries" / emdb)
    gather(
        [out / "entries" / e for e in valid],
        invalid,
        out / "curation_log.tsv",
        out / "manifest.tsv",
    )
    print(summarize_log(out / "curation_log.tsv"))
    print(f"curation log: {out / 'curation_log.tsv'}\nmanifest:     {out / 'manifest.tsv'}")
    return 0


def _entries_path(args: argparse.Namespace, config: dict) -> Path:
    path = args.entries or config.get("entries_file")
    if not path:
        raise UsageError(
            f"no entry list: pass --entries FILE, or run in the project folder ({DEFAULT_CONFIG} "
            "names entries_file) or pass --config"
        )
    return Path(path)


def _search(args: argparse.Namespace) -> int:
    from cryosse.search import search_from_config

    config = _load_config(args.config, DEFAULT_CONFIG)
    search = dict(config.get("search") or {})
    resolution = dict(config.get("resolution") or {})
    if args.method:
        search["methods"] = args.method
    for key, value in (
        ("released_after", args.released_after),
        ("released_before", args.released_before),
    ):
        if value:
            search[key] = value
    if args.min is not None:
        resolution["min"] = args.min
    if args.max is not None:
        resolution["max"] = args.max
    config = {**config, "search": search, "resolution": resolution}
    entries = _entries_path(args, config)
    try:
        result, downloads = search_from_config(config, entries)
    except (RuntimeError, ValueError) as exc:
        print(f"cryosse search: {exc}", file=sys.stderr)
        return 1
    for problem in result.hits.rejected + result.header_problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"query:   {result.query}")
    print(f"found:   {len(result.hits.records)} entries ({len(result.hits.rejected)} rows refused)")
    print(
        f"added:   {len(result.addition.added)} new, "
        f"{len(result.addition.already_present)} already listed -> {entries}"
    )
    print(downloads)
    if entries.is_file():
        from cryosse.entries import read_entry_table
        from cryosse.estimate import estimate_entries

        print("\n".join(estimate_entries(read_entry_table(entries)).lines()))
    return 0


def _add(args: argparse.Namespace) -> int:
    config = _load_config(args.config, DEFAULT_CONFIG)
    entries = _entries_path(args, config)
    new_list = not entries.exists()
    addition = add_entries(entries, [EntryRecord(emdb_id=raw) for raw in args.ids])
    print(f"added {len(addition.added)} to {entries}: {' '.join(addition.added) or '-'}")
    if new_list and addition.added and (config.get("search") or {}).get("enabled"):
        # the workflow searches EMDB only while the entry list does not exist
        note = (
            f"note: {entries} did not exist and now holds only these entries, so the workflow's "
            "EMDB search (search.enabled) will not run; `cryosse search` appends its hits to it"
        )
        print(note, file=sys.stderr)
    if addition.already_present:
        print(f"already listed: {' '.join(addition.already_present)}")
    for raw in addition.invalid:
        print(f"refused {raw!r}: not an EMDB id (EMD- + 4-7 digits)", file=sys.stderr)
    return 1 if addition.invalid else 0


def _print_estimate(ids: list[str], table: Path | None) -> None:
    """The cost of these entries (sizes from the entry list where it has them), before any
    download."""
    from cryosse.entries import read_entry_table
    from cryosse.estimate import estimate_entries

    listed = {r.emdb_id: r for r in read_entry_table(table)} if table else {}
    records = [listed.get(i) or EntryRecord(emdb_id=i) for i in ids]
    print("\n".join(estimate_entries(records).lines()))


def _fetch(args: argparse.Namespace) -> int:
    """Download (or check in the mirror) every listed entry, a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from cryosse.archive import HttpArchive, archive_from_config
    from cryosse.dataset import entry_ids_from_config, settings_section, split_entry_ids
    from cryosse.locate import locate_entry

    config = _load_config(args.config, DEFAULT_CONFIG)
    table = config.get("entries_file")
    if not args.ids and table and not Path(table).is_file():
        raise UsageError(
            f"no entry list: {table} does not exist; run `cryosse search` (or `cryosse add "
            "EMD-…`) first, or name the entries: cryosse fetch EMD-8518"
        )
    raw_ids = args.ids or entry_ids_from_config(config)
    if not raw_ids:
        raise UsageError("nothing to fetch: name entries (cryosse fetch EMD-8518) or list them")
    _print_estimate(raw_ids, Path(table) if table and Path(table).is_file() else None)
    valid, invalid = split_entry_ids(raw_ids)
    for raw in invalid:
        print(f"refused {raw!r}: not an EMDB id", file=sys.stderr)
    download = config.get("download") or {}
    progress = args.progress or sys.stderr.isatty()
    archive = archive_from_config(config.get("archive") or {}, download, progress=progress)
    window = CurationSettings.from_config(settings_section(config)).resolution
    workers = int(args.workers or download.get("concurrency", 4))
    counts: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        located = pool.map(lambda emdb: locate_entry(emdb, archive, window), valid)
        for entry in tqdm(
            located, total=len(valid), desc="entries", unit="entry", disable=not sys.stderr.isatty()
        ):
            counts[entry.reason] = counts.get(entry.reason, 0) + 1
            if entry.status != "ok":
                print(f"{entry.emdb_id}: {entry.reason}: {entry.message}", file=sys.stderr)
    print(", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())) or "no entries")
    if isinstance(archive, HttpArchive):
        print(archive.downloader.stats.summary_line())
        archive.downloader.close()
    failed = counts.get(Reason.DOWNLOAD_FAILED.value, 0)
    if failed:  # not the data's fault: a later fetch (or the workflow) tries them again
        print(f"cryosse fetch: {failed} entries not downloaded; run it again", file=sys.stderr)
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    """Score another tool's helix/sheet maps against our labels of the map/model pair."""
    from cryosse.dataset import settings_section
    from cryosse.external import FULL_COVERAGE, PredictionError, evaluate_external
    from cryosse.grid import BASELINES
    from cryosse.ids import normalize_emdb_id, normalize_pdb_id

    if args.model_deprecated:  # --model is a checkpoint everywhere else (segment)
        print(
            "cryosse evaluate: warning: --model is deprecated here, use --structure (the "
            "atomic model)",
            file=sys.stderr,
        )
    structure = args.structure or args.model_deprecated
    if not structure or (args.structure and args.model_deprecated):
        print("cryosse evaluate: give the atomic model once, with --structure", file=sys.stderr)
        return 2
    settings = CurationSettings.from_config(settings_section(_load_config(args.config)))
    try:
        # the sample ids name the entry when it is known (else EMD-0000_pdb_00000000_<chain>)
        ids = {"emdb_id": normalize_emdb_id(args.emdb)} if args.emdb else {}
        if args.pdb:
            ids["pdb_id"] = normalize_pdb_id(args.pdb)
        rows, log = evaluate_external(
            args.pred_helix,
            args.pred_sheet,
            args.map,
            structure,
            settings,
            threshold=args.threshold,
            baselines=() if args.no_baselines else BASELINES,
            **ids,
        )
    except CurationError as exc:  # a prediction map refused from its header, a bad id
        print(f"cryosse evaluate: {exc.reason}: {exc.message}", file=sys.stderr)
        return 1
    except PredictionError as exc:  # predictions in another frame than the map
        print(f"cryosse evaluate: {exc}", file=sys.stderr)
        return 1
    for logged in log:
        if logged.status == "excluded":
            print(
                f"excluded {logged.level} {logged.chain or logged.pdb_id}: {logged.reason}: "
                f"{logged.message}",
                file=sys.stderr,
            )
    columns = ["sample_id", "chain"] + [
        f"{level}_{what}_{cls}"
        for level in ("voxel", "residue")
        for cls in SCORED_CLASSES
        for what in ("f1", "precision", "recall")
    ]
    columns += ["true_helix_voxels", "true_sheet_voxels", "predictor", "coverage"]
    for row in rows:
        if row["coverage"] < FULL_COVERAGE:
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
        Path(args.out).write_text(text)
    print(text, end="")
    return 0 if rows else 1


def _summary(args: argparse.Namespace) -> int:
    from cryosse.dataset import summarize_log

    print(summarize_log(args.log))
    return 0


def _structure_files(paths: list[str]) -> list[Path]:
    """Structure files from files and folders (*.pdb, *.cif, optionally gzipped)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            suffixes = (".pdb", ".cif", ".pdb.gz", ".cif.gz", ".ent.gz")
            found += [p for p in sorted(path.iterdir()) if p.name.endswith(suffixes)]
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"cryosse: {raw}: no such file or folder")
    if not found:
        raise SystemExit("cryosse: no structure file (.pdb/.cif, optionally .gz) given")
    return found


def _simulate(args: argparse.Namespace) -> int:
    """Simulated medium-resolution maps of atomic models, as mirror entries."""
    from cryosse.simulate import simulate_structures

    models = _structure_files(args.structures)[: args.limit or None]
    try:
        rows = simulate_structures(
            models,
            Path(args.mirror),
            first_id=args.first_id,
            maps_per_structure=args.maps_per_structure,
            seed=args.seed,
            jobs=args.jobs,
            progress=sys.stderr.isatty(),
        )
    except ValueError as exc:
        print(f"cryosse simulate: {exc}", file=sys.stderr)
        return 1
    for row in rows:
        if row["status"] != "written":
            print(f"skipped {row['source']}: {row['reason']}", file=sys.stderr)
    written = sum(row["status"] == "written" for row in rows)
    print(
        f"simulated {written} maps, skipped {len(rows) - written}; "
        f"summary: {Path(args.mirror) / 'simulated.tsv'}"
    )
    return 0 if written else 1


def _derive(args: argparse.Namespace) -> int:
    """Low-passed medium-resolution versions of the high-resolution real pairs."""
    from cryosse.derive import derive_pairs

    if not Path(args.realdata).is_dir():
        print(f"cryosse derive: {args.realdata}: not a folder", file=sys.stderr)
        return 1
    try:
        rows = derive_pairs(
            Path(args.realdata),
            Path(args.mirror),
            first_id=args.first_id,
            maps_per_pair=args.maps_per_pair,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"cryosse derive: {exc}", file=sys.stderr)
        return 1
    for row in rows:
        state = row["reason"] or f"{row['target_resolution']} Å, Butterworth low-pass"
        print(f"{row['emdb_id']} <- {row['source_emdb_id']}: {row['status']} ({state})")
    return 0 if any(row["status"] == "written" for row in rows) else 1


def _offline_mirror(args: argparse.Namespace) -> int:
    """The offline training mirror: simulated + derived + the real evaluation pairs."""
    from cryosse.offline import build_offline_mirror

    for folder in (args.structures, args.realdata):
        if not Path(folder).is_dir():
            print(f"cryosse offline-mirror: {folder}: not a folder", file=sys.stderr)
            return 1
    try:
        ids = build_offline_mirror(
            Path(args.structures),
            Path(args.realdata),
            Path(args.mirror),
            n_structures=args.n_structures,
            maps_per_structure=args.maps_per_structure,
            derived_per_pair=args.derived_per_pair,
            seed=args.seed,
            jobs=args.jobs,
            progress=sys.stderr.isatty(),
        )
    except (ValueError, OSError) as exc:
        print(f"cryosse offline-mirror: {exc}", file=sys.stderr)
        return 1
    for origin, entries in ids.items():
        print(f"{origin}: {len(entries)} entries")
    print(f"entry list: {Path(args.mirror) / 'entries.tsv'}")
    return 0


def _segment(args: argparse.Namespace) -> int:
    from cryosse.segment import run_cli

    return run_cli(args)


def _add_segment_parser(sub: argparse._SubParsersAction) -> None:
    segment = _subcommand(
        sub,
        "segment",
        help="helix / beta-sheet maps of your own map with a trained model",
        description="Segment a map (.mrc/.map, optionally .gz; any voxel size and axis order) "
        "into helix and beta-sheet probability maps and masks, in the map's frame, and a ChimeraX "
        "command file: open OUT/<map>.cxc in ChimeraX to see them on the map.",
    )
    segment.add_argument("map", help="the cryo-EM map")
    segment.add_argument("--model", help="checkpoint (best.pt); default: the packaged model")
    segment.add_argument("--out", help="output folder (default: <map name>_segmentation)")
    segment.add_argument(
        "--resolution",
        type=float,
        help="the map's resolution in Å (default: from an EMDB header emd-NNNN-v30.xml beside "
        "the map); a warning when outside the model's training range",
    )
    segment.add_argument(
        "--box",
        nargs=6,
        type=int,
        metavar=("I1", "J1", "K1", "I2", "J2", "K2"),
        help="region of the map's grid, 0-based x y z indices of the first and last voxel, "
        "ends included (as ChimeraX: volume #1 region i1,j1,k1,i2,j2,k2)",
    )
    segment.add_argument(
        "--structure",
        help="an atomic model fitted into the map (mmCIF/PDB): writes <map>_residues.tsv, the "
        "predicted class and probabilities per residue (beside its DSSP class with mkdssp)",
    )
    segment.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    segment.add_argument(
        "--on-input-grid",
        action="store_true",
        help="maps on the input grid instead of the 1 Å grid",
    )
    segment.add_argument("--tile-size", type=int, help="tile side in voxels (default: memory)")
    segment.add_argument("--overlap", type=int, help="tile overlap in voxels (default: 44)")
    segment.add_argument("--max-memory", help="memory for the network, e.g. 4G (default: auto)")
    segment.add_argument("--batch-size", type=int, help="tiles per forward (default: auto)")
    segment.add_argument("--no-bf16", action="store_true", help="fp32 on a GPU too")
    segment.add_argument(
        "--cpu-bf16", action="store_true", help="bf16 on a CPU (only with AVX-512 BF16 / AMX)"
    )
    segment.add_argument("--channels-last", action="store_true", help="channels_last_3d layout")
    segment.add_argument("--threads", type=int, help="CPU threads for torch")
    segment.add_argument("--progress", action="store_true", help="progress bar even without a TTY")
    segment.set_defaults(func=_segment)


def _ship_model(args: argparse.Namespace) -> int:
    """Make a finished run's model the packaged default (with its model card)."""
    from cryosse.checkpoint import CheckpointError
    from cryosse.default_model import ShipError, ship_default_model

    try:
        real_maps = json.loads(Path(args.real_maps).read_text()) if args.real_maps else None
        card = ship_default_model(args.run, args.package, args.loss, real_maps)
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


def _version(_: argparse.Namespace) -> int:
    print(f"cryosse {__version__}; {mkdssp_version() or 'mkdssp not found'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryosse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"cryosse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    search = _subcommand(sub, "search", help="find EMDB entries and append them to the list")
    search.add_argument("--config", help=f"workflow config (YAML; default: {DEFAULT_CONFIG})")
    search.add_argument("--entries", help="entry list to append to (default: entries_file)")
    search.add_argument("--min", type=float, help="best resolution, Å (default: config)")
    search.add_argument("--max", type=float, help="worst resolution, Å (default: config)")
    search.add_argument(
        "--method",
        action="append",
        help="singleparticle, helical, subtomogramaveraging, ... (repeatable)",
    )
    search.add_argument("--released-after", help="YYYY-MM-DD")
    search.add_argument("--released-before", help="YYYY-MM-DD")
    search.set_defaults(func=_search)
    add = _subcommand(sub, "add", help="append EMDB entries to the entry list")
    add.add_argument("ids", nargs="+", help="EMDB ids, e.g. EMD-8518")
    add.add_argument("--config", help=f"workflow config (YAML; default: {DEFAULT_CONFIG})")
    add.add_argument("--entries", help="entry list (default: entries_file of the config)")
    add.set_defaults(func=_add)
    fetch = _subcommand(sub, "fetch", help="download the listed entries into the archive cache")
    fetch.add_argument("ids", nargs="*", help="EMDB ids (default: the config's entries)")
    fetch.add_argument("--config", help=f"workflow config (YAML; default: {DEFAULT_CONFIG})")
    fetch.add_argument("--workers", type=int, help="entries at a time (default: concurrency)")
    fetch.add_argument("--progress", action="store_true", help="progress bars even without a TTY")
    fetch.set_defaults(func=_fetch)
    curate = _subcommand(sub, "curate", help="acquire and curate a few entries into samples")
    curate.add_argument("entries", nargs="+", help="EMDB ids, e.g. EMD-8518")
    curate.add_argument("--mirror", help="local EMDB/PDB mirror (default: the config's archive)")
    curate.add_argument("--out", required=True, help="output folder")
    curate.add_argument("--config", help="workflow config (YAML): archive and curation settings")
    curate.set_defaults(func=_curate)
    evaluate = _subcommand(sub, "evaluate", help="score another tool's helix/sheet maps")
    evaluate.add_argument("--pred-helix", required=True, help="helix map (binary or probability)")
    evaluate.add_argument("--pred-sheet", required=True, help="sheet map, any grid")
    evaluate.add_argument("--map", required=True, help="the cryo-EM map the tool segmented")
    evaluate.add_argument("--structure", help="the fitted atomic model (mmCIF or PDB)")
    evaluate.add_argument("--model", dest="model_deprecated", help="deprecated: --structure")
    evaluate.add_argument("--emdb", help="the map's EMDB id, for the sample ids (EMD-1234)")
    evaluate.add_argument("--pdb", help="the model's PDB id, for the sample ids (5u8s)")
    evaluate.add_argument("--config", help="workflow config (curation settings)")
    evaluate.add_argument(
        "--threshold",
        type=_unit_interval,
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
    evaluate.set_defaults(func=_evaluate)
    summary = _subcommand(sub, "summary", help="counts per reason in a curation log")
    summary.add_argument("log")
    summary.set_defaults(func=_summary)
    simulate = _subcommand(sub, "simulate", help="simulated 5-10 Å maps of atomic models")
    simulate.add_argument("structures", nargs="+", help="model files or folders (.pdb/.cif[.gz])")
    simulate.add_argument("--mirror", required=True, help="mirror root to write entries into")
    simulate.add_argument("--first-id", type=int, default=92000, help="first EMD number (92000)")
    simulate.add_argument("--maps-per-structure", type=int, default=1, help="maps per model")
    simulate.add_argument("--limit", type=int, help="only the first N models (sorted by name)")
    simulate.add_argument("--seed", type=int, default=1, help="seed of every map's parameters")
    simulate.add_argument("--jobs", type=int, default=1, help="processes")
    simulate.set_defaults(func=_simulate)
    derive = _subcommand(sub, "derive", help="low-pass the high-resolution real pairs to 5-10 Å")
    derive.add_argument("--realdata", required=True, help="realdata folder (provenance.json)")
    derive.add_argument("--mirror", required=True, help="mirror root to write entries into")
    derive.add_argument("--first-id", type=int, default=91000, help="first EMD number (91000)")
    derive.add_argument("--maps-per-pair", type=int, default=1, help="target resolutions per pair")
    derive.add_argument("--seed", type=int, default=1, help="seed of the target resolutions")
    derive.set_defaults(func=_derive)
    offline = _subcommand(
        sub, "offline-mirror", help="simulated + derived + real evaluation mirror"
    )
    offline.add_argument("--structures", required=True, help="folder of atomic models")
    offline.add_argument("--realdata", required=True, help="realdata folder")
    offline.add_argument("--mirror", required=True, help="mirror root to write")
    offline.add_argument("--n-structures", type=int, help="first N models only (default: all)")
    offline.add_argument("--maps-per-structure", type=int, default=1)
    offline.add_argument("--derived-per-pair", type=int, default=2)
    offline.add_argument("--seed", type=int, default=1)
    offline.add_argument("--jobs", type=int, default=1, help="simulation processes")
    offline.set_defaults(func=_offline_mirror)
    _add_segment_parser(sub)
    ship = _subcommand(sub, "ship-model", help="make a run's model the packaged default model")
    ship.add_argument("run", help="a finished workflow run folder, e.g. results/offline")
    ship.add_argument("--loss", default="FL_DL", help="whose chosen run to ship (FL_DL)")
    ship.add_argument("--package", default="src/cryosse", help="the package source folder")
    ship.add_argument(
        "--real-maps",
        help="card figures: the --json of benchmarks/real_maps.py for this run's model "
        "(baselines and DeepSSETracer 1.0 beside it)",
    )
    ship.set_defaults(func=_ship_model)
    _subcommand(sub, "version", help="versions of cryosse and mkdssp").set_defaults(func=_version)
    return parser


# Modules of the `pipeline` extra (pyproject): a subcommand that needs one says how to get it.
PIPELINE_MODULES = {
    "snakemake",
    "pandas",
    "Bio",
    "requests",
    "urllib3",
    "jsonschema",
    "yaml",
    "matplotlib",
}


# External programs a subcommand runs (cryosse.toolchain), checked before it starts any work.
NEEDS_TOOLS = {"curate": ("mkdssp",), "evaluate": ("mkdssp",)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in NEEDS_TOOLS:
        from cryosse.toolchain import ToolchainError, check_toolchain

        try:
            check_toolchain(NEEDS_TOOLS[args.command])
        except ToolchainError as exc:
            print(f"cryosse {args.command}: {exc}", file=sys.stderr)
            return 1
    try:
        return args.func(args)
    except (UsageError, EntryListError) as exc:
        print(f"cryosse {args.command}: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in PIPELINE_MODULES:
            raise
        print(
            f"cryosse {args.command}: needs the pipeline extra (no module {exc.name!r}): "
            "pip install 'cryosse[pipeline]'",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
