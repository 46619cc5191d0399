"""Acquisition, as the workflow runs it: one entry from the configured archive, recorded.

`run_acquire` is what rule `acquire_entry` calls (workflow_scripts/acquire_entry.py); the record
`results/<run>/acquired/EMD-XXXX.json` says where the entry's files are, or why it is excluded.
`run_search` is what checkpoint `search_emdb` calls (workflow_scripts/search_emdb.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cryosse.acquire.from_config import archive_from_config
from cryosse.acquire.locate import LocatedEntry, locate_entry
from cryosse.acquire.search import SearchResult, search_from_config
from cryosse.core.atomic import write_text_atomic
from cryosse.core.config import ResolutionWindow, settings_from

log = logging.getLogger(__name__)


class TransientDownloadError(RuntimeError):
    """Acquisition met network or server failures that a later run may not meet."""


def run_acquire(
    *,
    emdb_id: str,
    archive: dict[str, Any],
    download: dict[str, Any],
    resolution: dict[str, Any],
    out_json: str | Path,
    progress: bool = False,
) -> LocatedEntry:
    """Acquire one entry from the configured archive (mirror or HTTP) and record the result;
    each download and their summary also go to the log. Of the curation settings only the
    resolution window (config section `resolution`) decides what is acquired, so no other
    setting re-runs a download."""
    source = archive_from_config(archive, download, progress=progress)
    try:
        located = locate_entry(emdb_id, source, settings_from(ResolutionWindow, resolution))
    finally:
        source.close()
    if source.transient_failures:
        # Not an exclusion: the network or the server failed. No record is written, so the
        # Snakemake job fails and the next run (or the rule's retry) tries again.
        raise TransientDownloadError(
            f"{emdb_id}: {len(source.transient_failures)} download(s) failed after all "
            f"retries; run again later: " + "; ".join(source.transient_failures)
        )
    record = located.to_dict()
    record.update(source.download_record())  # nothing for a mirror
    write_text_atomic(out_json, json.dumps(record, indent=2) + "\n")
    for attempt in record.get("downloads", []):
        log.info("download %s: %s", attempt["url"], attempt["result"])
    if "download_summary" in record:
        log.info(record["download_summary"])
    return located


def run_search(*, config: dict[str, Any], entries_tsv: str | Path) -> tuple[SearchResult, str]:
    """The EMDB search that checkpoint `search_emdb` runs once: the entries the configured query
    finds, appended to `entries_tsv` (which freezes the data set). Returns the search result and
    the download summary line."""
    return search_from_config(config, entries_tsv)
