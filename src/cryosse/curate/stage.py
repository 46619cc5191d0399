"""Curation, as the workflow runs it: one entry's samples, then the run's log and manifest.

Layout of a run (results/<run>/):
    acquired/EMD-XXXX.json         where the entry's files are (or why it is excluded)
    entries/EMD-XXXX/              written atomically as a whole
        curation_log.tsv           this entry's rows
        timings.json               seconds per step
        samples/<sample_id>/       density.mrc, labels.mrc, residues.tsv, sample.json
    curation_log.tsv               every entry, model and chain: kept or excluded, with reason
    manifest.tsv                   one row per sample

Rules `curate_entry` and `gather_dataset` call `run_curate` and `gather`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryosse.acquire.locate import LocatedEntry
from cryosse.core.atomic import atomic_directory
from cryosse.core.reasons import Reason
from cryosse.core.tsv import write_tsv
from cryosse.curate.entry import STEPS, curate_entry
from cryosse.curate.settings import CurationSettings
from cryosse.io.curation_log import LogRow, read_log, write_log
from cryosse.io.run_layout import MANIFEST_COLUMNS, manifest_row
from cryosse.io.sample import SampleMeta


def run_curate(*, located_json: str | Path, settings: dict[str, Any], out_dir: str | Path) -> None:
    located = LocatedEntry.from_dict(json.loads(Path(located_json).read_text()))
    curation = CurationSettings.from_config(settings)
    with atomic_directory(out_dir) as tmp:
        result = curate_entry(located, curation, tmp / "samples")
        (tmp / "samples").mkdir(exist_ok=True)
        write_log(tmp / "curation_log.tsv", result.rows)
        timings = {step: round(result.timings.get(step, 0.0), 4) for step in STEPS}
        (tmp / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")


def gather(
    *,
    entry_dirs: list[str | Path],
    invalid_ids: list[str],
    log_out: str | Path,
    manifest_out: str | Path,
) -> None:
    """Merge per-entry logs and sample metadata into the run's log and manifest."""
    rows = [
        LogRow(
            repr(raw),
            "",
            "",
            "entry",
            "excluded",
            Reason.INVALID_ID.value,
            f"{raw!r} is not a valid EMDB id (EMD- + 4-7 digits)",
        )
        for raw in invalid_ids
    ]
    manifest_rows: list[dict[str, Any]] = []
    root = Path(manifest_out).parent
    for entry_dir in entry_dirs:
        entry_dir = Path(entry_dir)
        rows += read_log(entry_dir / "curation_log.tsv")
        for meta_path in sorted((entry_dir / "samples").glob("*/sample.json")):
            meta = SampleMeta.read(meta_path.parent)
            manifest_rows.append(manifest_row(meta, meta_path.parent, root))
    manifest_rows.sort(key=lambda row: row["sample_id"])
    write_log(log_out, rows)
    write_tsv(manifest_out, MANIFEST_COLUMNS, manifest_rows)


def summarize_log(path: str | Path) -> str:
    """A short human summary of a curation log (counts per level, status and reason)."""
    counts: dict[tuple[str, str, str], int] = {}
    for row in read_log(path):
        key = (row.level, row.status, row.reason)
        counts[key] = counts.get(key, 0) + 1
    lines = [
        f"{level:6s} {status:9s} {reason:24s} {n}"
        for (level, status, reason), n in sorted(counts.items())
    ]
    return "\n".join(lines)
