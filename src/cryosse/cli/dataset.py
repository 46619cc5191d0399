"""Data set commands: search EMDB, add entries, fetch them, curate a few, summarise a log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from cryosse.cli.common import DEFAULT_CONFIG, UsageError, load_config, subcommand
from cryosse.core.reasons import Reason
from cryosse.curate.settings import CurationSettings
from cryosse.io.entries import EntryRecord, add_entries

# The archive and search modules (requests, PyYAML: the `pipeline` extra) are imported by the
# commands that use them, so `cryosse segment` runs from the core install alone.

EXAMPLES = {
    "search": "cryosse search --config config/config.yaml --min 5 --max 10 --method singleparticle",
    "add": "cryosse add EMD-8518 EMD-6149 --entries config/entries.tsv",
    "splits": "cryosse splits --config config/demo.yaml",
    "fetch": "cryosse fetch --config config/config.yaml EMD-8518",
    "curate": "cryosse curate EMD-8518 --mirror demo/mirror --out results/mine",
    "summary": "cryosse summary results/demo/curation_log.tsv",
}


def curate_command(args: argparse.Namespace) -> int:
    from cryosse.acquire.stage import run_acquire
    from cryosse.core.ids import split_entry_ids
    from cryosse.curate.settings import settings_section
    from cryosse.curate.stage import gather, run_curate, summarize_log

    config = load_config(args.config)
    settings = settings_section(config)
    archive = dict(config.get("archive") or {})
    if args.mirror:
        archive["mirror"] = args.mirror
    out = Path(args.out)
    valid, invalid = split_entry_ids(args.entries)
    for emdb in tqdm(valid, desc="curating", unit="entry", disable=not sys.stderr.isatty()):
        acquired = out / "acquired" / f"{emdb}.json"
        run_acquire(
            emdb_id=emdb,
            archive=archive,
            download=config["download"],
            resolution=config["resolution"],
            out_json=acquired,
        )
        run_curate(located_json=acquired, settings=settings, out_dir=out / "entries" / emdb)
    gather(
        entry_dirs=[out / "entries" / e for e in valid],
        invalid_ids=invalid,
        log_out=out / "curation_log.tsv",
        manifest_out=out / "manifest.tsv",
    )
    print(summarize_log(out / "curation_log.tsv"))
    print(f"curation log: {out / 'curation_log.tsv'}\nmanifest:     {out / 'manifest.tsv'}")
    return 0


def entries_path(args: argparse.Namespace, config: dict) -> Path:
    """The entry list to append to: --entries, else the config's entries_file; the refusal
    names what is actually missing."""
    path = args.entries or config.get("entries_file")
    if not path:
        if args.config:
            source = f"{args.config} has no entries_file"
        elif Path(DEFAULT_CONFIG).is_file():
            source = f"{DEFAULT_CONFIG} has no entries_file"
        else:
            source = f"no --config, and this folder has no {DEFAULT_CONFIG}"
        listed = " (its `entries:` list is not edited by cryosse)" if config.get("entries") else ""
        raise UsageError(
            f"no entry list: {source}{listed}; pass --entries FILE, or set entries_file in "
            "the config"
        )
    if Path(path).is_dir():
        raise UsageError(f"{path} is a folder: --entries / entries_file names a .tsv file")
    return Path(path)


def ledger_path(config: dict) -> Path:
    """The run's split ledger, where the workflow keeps it (rules/common.smk: SPLIT_LEDGER)."""
    return Path(
        (config.get("splits") or {}).get("ledger") or f"results/{config['run']}/splits/ledger.tsv"
    )


def _splits_note(config: dict, config_arg: str | None) -> list[str]:
    """What an addition does to the splits, said before the workflow runs: the ledger's samples
    keep their split, new ones join at the next run, CV folds are recomputed."""
    from cryosse.splits.ledger import read_ledger

    ledger = ledger_path(config)
    rows = read_ledger(ledger) if ledger.is_file() else []
    config_option = f" --configfile {config_arg}" if config_arg else ""
    lines = []
    if rows:
        batches = max(int(r.batch) for r in rows)
        span = "batch 1" if batches == 1 else f"batches 1-{batches}"
        lines.append(
            f"splits: the {len(rows)} samples already in {ledger} ({span}) keep "
            "their split; the ledger is append-only"
        )
    else:
        lines.append(f"splits: no ledger yet ({ledger}): the next run assigns every sample")
    lines += [
        f"next: snakemake dataset --cores 2{config_option}   (acquires and curates only the "
        "new entries; without `dataset` it trains and evaluates too)",
        f"then: cryosse splits{' --config ' + config_arg if config_arg else ''}   (the split "
        "each new sample joined, and a check that no earlier sample moved)",
        "note: cross-validation folds (splits/cv.tsv) are recomputed from all samples on every "
        "run, so fold membership can change; the main split (splits/main.tsv) does not",
    ]
    return lines


def search_command(args: argparse.Namespace) -> int:
    from cryosse.acquire.search import search_from_config

    config = load_config(args.config, DEFAULT_CONFIG)
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
    entries = entries_path(args, config)
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
        from cryosse.acquire.estimate import estimate_entries
        from cryosse.io.entries import read_entry_table

        print("\n".join(estimate_entries(read_entry_table(entries)).lines()))
    return 0


def add_command(args: argparse.Namespace) -> int:
    config = load_config(args.config, DEFAULT_CONFIG)
    entries = entries_path(args, config)
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
    if addition.added and not args.entries:  # the config's own list: its run's splits
        print("\n".join(_splits_note(config, args.config)))
    return 1 if addition.invalid else 0


def splits_command(args: argparse.Namespace) -> int:
    """Where the samples of one ledger batch (default: the latest run that added any) went, and
    a check that every earlier sample sits in the main split table where the ledger put it."""
    from cryosse.core.tsv import read_tsv
    from cryosse.splits.ledger import read_ledger

    config = load_config(args.config, DEFAULT_CONFIG)
    ledger = ledger_path(config)
    main_tsv = Path(f"results/{config['run']}/splits/main.tsv")
    if not ledger.is_file() or not main_tsv.is_file():
        raise UsageError(f"no splits yet ({ledger}, {main_tsv}): run the workflow first")
    rows = read_ledger(ledger)
    if not rows:
        raise UsageError(f"{ledger} holds no samples")
    batch = args.batch or max(int(r.batch) for r in rows)
    table = {r["sample_id"]: r["split"] for r in read_tsv(main_tsv)}
    new = [r for r in rows if int(r.batch) == batch]
    earlier = [r for r in rows if int(r.batch) < batch]
    print(f"batch {batch}: {len(new)} sample(s) joined the main split")
    for row in new:
        print(f"  {row.sample_id}\t{row.split}\t(quality bin {row.quality_bin})")
    moved = [r.sample_id for r in earlier if table.get(r.sample_id, r.split) != r.split]
    missing = [r.sample_id for r in earlier if r.sample_id not in table]
    if moved:
        print(f"MOVED: {' '.join(moved)} (main.tsv disagrees with the ledger)", file=sys.stderr)
        return 3
    kept = len(earlier) - len(missing)
    print(
        f"earlier samples: {kept} of {len(earlier)} in {main_tsv}, each in the split the ledger "
        "gave it: none moved"
        + (f"; {len(missing)} no longer curated: {' '.join(missing)}" if missing else "")
    )
    print(
        "cross-validation folds (splits/cv.tsv) are recomputed from all samples on every run: "
        "fold membership can change"
    )
    return 0


def _print_estimate(ids: list[str], table: Path | None) -> None:
    """The cost of these entries (sizes from the entry list where it has them), before any
    download."""
    from cryosse.acquire.estimate import estimate_entries
    from cryosse.io.entries import read_entry_table

    listed = {r.emdb_id: r for r in read_entry_table(table)} if table else {}
    records = [listed.get(i) or EntryRecord(emdb_id=i) for i in ids]
    print("\n".join(estimate_entries(records).lines()))


def fetch_command(args: argparse.Namespace) -> int:
    """Download (or check in the mirror) every listed entry, a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from cryosse.acquire.from_config import archive_from_config
    from cryosse.acquire.locate import locate_entry
    from cryosse.core.ids import split_entry_ids
    from cryosse.curate.settings import settings_section
    from cryosse.io.entries import entry_ids_from_config

    config = load_config(args.config, DEFAULT_CONFIG)
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
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            located = pool.map(lambda emdb: locate_entry(emdb, archive, window), valid)
            for entry in tqdm(
                located,
                total=len(valid),
                desc="entries",
                unit="entry",
                disable=not sys.stderr.isatty(),
            ):
                counts[entry.reason] = counts.get(entry.reason, 0) + 1
                if entry.status != "ok":
                    print(f"{entry.emdb_id}: {entry.reason}: {entry.message}", file=sys.stderr)
    except OSError as exc:  # a full disk, say: the cache named (exit 2), partial files resume
        if exc.filename:
            raise
        cache = (config.get("archive") or {}).get("cache") or "archive"
        raise OSError(
            exc.errno,
            f"{exc.strerror or exc} while downloading into the archive cache (finished files "
            "are kept, partial ones resume at the next fetch)",
            str(cache),
        ) from exc
    print(", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())) or "no entries")
    summary = archive.download_summary()  # None for a mirror
    if summary is not None:
        print(summary)
    archive.close()
    failed = counts.get(Reason.DOWNLOAD_FAILED.value, 0)
    if failed:  # not the data's fault: a later fetch (or the workflow) tries them again
        print(f"cryosse fetch: {failed} entries not downloaded; run it again", file=sys.stderr)
    return 1 if failed else 0


def summary_command(args: argparse.Namespace) -> int:
    from cryosse.curate.stage import summarize_log

    print(summarize_log(args.log))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    search = subcommand(
        sub, "search", EXAMPLES["search"], help="find EMDB entries and append them to the list"
    )
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
    search.set_defaults(func=search_command)
    add = subcommand(sub, "add", EXAMPLES["add"], help="append EMDB entries to the entry list")
    add.add_argument("ids", nargs="+", help="EMDB ids, e.g. EMD-8518")
    add.add_argument("--config", help=f"workflow config (YAML; default: {DEFAULT_CONFIG})")
    add.add_argument("--entries", help="entry list (default: entries_file of the config)")
    add.set_defaults(func=add_command)
    splits = subcommand(
        sub,
        "splits",
        EXAMPLES["splits"],
        help="the split each newly added sample joined; earlier samples checked unmoved",
    )
    splits.add_argument("--config", help=f"workflow config (YAML; default: {DEFAULT_CONFIG})")
    splits.add_argument("--batch", type=int, help="ledger batch to list (default: the latest)")
    splits.set_defaults(func=splits_command)
    fetch = subcommand(
        sub, "fetch", EXAMPLES["fetch"], help="download the listed entries into the archive cache"
    )
    fetch.add_argument("ids", nargs="*", help="EMDB ids (default: the config's entries)")
    fetch.add_argument("--config", help=f"workflow config (YAML; default: {DEFAULT_CONFIG})")
    fetch.add_argument("--workers", type=int, help="entries at a time (default: concurrency)")
    fetch.add_argument("--progress", action="store_true", help="progress bars even without a TTY")
    fetch.set_defaults(func=fetch_command)
    curate = subcommand(
        sub, "curate", EXAMPLES["curate"], help="acquire and curate a few entries into samples"
    )
    curate.add_argument("entries", nargs="+", help="EMDB ids, e.g. EMD-8518")
    curate.add_argument("--mirror", help="local EMDB/PDB mirror (default: the config's archive)")
    curate.add_argument("--out", required=True, help="output folder")
    curate.add_argument("--config", help="workflow config (YAML): archive and curation settings")
    curate.set_defaults(func=curate_command)
    summary = subcommand(
        sub, "summary", EXAMPLES["summary"], help="counts per reason in a curation log"
    )
    summary.add_argument("log")
    summary.set_defaults(func=summary_command)
