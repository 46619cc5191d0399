"""Find EMDB entries for a dataset with the EMDB search API, and write the entry list.

The API takes a Solr query in the URL path and answers CSV (the official EMDB client's usage):

    GET {api}/search/{query}?rows=N&fl=emdb_id,resolution,...&wt=csv&download=false

The query asks for released entries in a resolution window with a PDB cross-reference,
optionally by method and release date:

    current_status:"REL" AND resolution:[5.0 TO 10.0] AND xref_links:"pdb"
        AND (structure_determination_method:"singleparticle" OR ...)
        AND release_date:[2015-01-01T00:00:00Z TO *]

(`release_date` is the searchable field; `map_release_date` is only an output field in `fl`,
and Solr answers HTTP 400 to a query on a field it does not know.)

The answer is checked against the archive's own count (GET {api}/facet/{query}?field=
current_status, a JSON count per status): fewer rows than the archive counts is a truncated
answer, and nothing is added from it.

The raw CSV is kept beside the entry list as the provenance snapshot. Every id in the answer
is validated before it can reach a path; rows that fail are counted and reported, not used.
Map sizes come from each entry's v3 header (fetched into the archive cache, where acquisition
reuses it).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cryosse.acquire.archive import Archive
from cryosse.acquire.archive_settings import (
    ArchiveSettings,
    ArchiveURLs,
    DownloadLimits,
    DownloadSettings,
)
from cryosse.acquire.download import Downloader
from cryosse.acquire.download_errors import DownloadError
from cryosse.acquire.from_config import downloader_from_config
from cryosse.acquire.http_archive import HttpArchive
from cryosse.acquire.mirror_archive import MirrorArchive
from cryosse.core.atomic import write_text_atomic
from cryosse.core.config import ResolutionWindow, settings_from
from cryosse.core.ids import is_valid_emdb_id, is_valid_pdb_id, normalize_emdb_id, normalize_pdb_id
from cryosse.core.reasons import DataError
from cryosse.io.entries import Addition, EntryRecord, add_entries, utc_timestamp
from cryosse.io.header import parse_header
from cryosse.io.mirror import LocalMirror

SEARCH_FIELDS = (
    "emdb_id",
    "resolution",
    "structure_determination_method",
    "fitted_pdbs",
    "map_release_date",
    "current_status",
)
# EMDB's names for structure determination methods (Solr values), with friendlier aliases.
METHODS = {
    "singleparticle": "singleparticle",
    "single particle": "singleparticle",
    "helical": "helical",
    "subtomogramaveraging": "subtomogramaveraging",
    "subtomogram averaging": "subtomogramaveraging",
    "tomography": "tomography",
    "electroncrystallography": "electroncrystallography",
    "electron crystallography": "electroncrystallography",
}
DEFAULT_ROWS = 1_000_000
# Total seconds for the search request (and for the count request), retries included.
DEFAULT_SEARCH_DEADLINE = 600.0
# A million rows of these fields is about 100 MB; anything far beyond is not a search answer.
MAX_SEARCH_BYTES = 1000**3
MAX_COUNT_BYTES = 1000**2


@dataclass(frozen=True)
class SearchSettings:
    """The config's `search` section."""

    enabled: bool = False  # the workflow's search checkpoint writes the entry list
    methods: tuple[str, ...] = ()
    released_after: str | None = None  # ISO dates
    released_before: str | None = None
    rows: int = DEFAULT_ROWS
    deadline: float = DEFAULT_SEARCH_DEADLINE
    check_count: bool = True

    @classmethod
    def from_config(cls, search: dict[str, Any]) -> SearchSettings:
        return settings_from(cls, search, methods=tuple)


@dataclass(frozen=True)
class SearchQuery:
    resolution_min: float = 5.0
    resolution_max: float = 10.0
    methods: tuple[str, ...] = ()
    released_after: date | None = None
    released_before: date | None = None

    def __post_init__(self) -> None:
        if not 0 < self.resolution_min <= self.resolution_max:
            raise ValueError("resolution window must satisfy 0 < min <= max")
        for method in self.methods:
            if method.lower() not in METHODS:
                raise ValueError(f"unknown method {method!r}; known: {sorted(set(METHODS))}")

    @classmethod
    def from_config(cls, search: dict[str, Any], resolution: dict[str, Any]) -> SearchQuery:
        window = settings_from(ResolutionWindow, resolution)
        return cls.from_settings(SearchSettings.from_config(search), window)

    @classmethod
    def from_settings(cls, settings: SearchSettings, window: ResolutionWindow) -> SearchQuery:
        def as_date(value: Any) -> date | None:
            if value is None or isinstance(value, date):
                return value
            return date.fromisoformat(str(value))

        return cls(
            resolution_min=window.min,
            resolution_max=window.max,
            methods=settings.methods,
            released_after=as_date(settings.released_after),
            released_before=as_date(settings.released_before),
        )

    def to_solr(self) -> str:
        """The Solr query. Only validated numbers, dates and known method names go in."""
        parts = [
            'current_status:"REL"',
            f"resolution:[{self.resolution_min:g} TO {self.resolution_max:g}]",
            'xref_links:"pdb"',
        ]
        methods = sorted({METHODS[m.lower()] for m in self.methods})
        if methods:
            either = " OR ".join(f'structure_determination_method:"{m}"' for m in methods)
            parts.append(f"({either})")
        if self.released_after or self.released_before:
            start = f"{self.released_after.isoformat()}T00:00:00Z" if self.released_after else "*"
            end = f"{self.released_before.isoformat()}T23:59:59Z" if self.released_before else "*"
            parts.append(f"release_date:[{start} TO {end}]")
        return " AND ".join(parts)


def search_url(api: str, query: str, rows: int = DEFAULT_ROWS) -> str:
    path = urllib.parse.quote(query, safe="")
    params = urllib.parse.urlencode(
        {"rows": rows, "fl": ",".join(SEARCH_FIELDS), "wt": "csv", "download": "false"}
    )
    return f"{api.rstrip('/')}/search/{path}?{params}"


def count_url(api: str, query: str) -> str:
    """The facet request that counts the entries matching `query`, per current_status."""
    path = urllib.parse.quote(query, safe="")
    return f"{api.rstrip('/')}/facet/{path}?field=current_status"


def parse_count(text: str) -> int:
    """The number of matching entries in a facet answer ({"current_status": {"REL": n}})."""
    try:
        counts = json.loads(text)["current_status"]
        values = [int(v) for v in counts.values()]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a facet count answer ({type(exc).__name__}: {exc})") from exc
    if any(v < 0 for v in values):
        raise ValueError(f"negative count in {counts!r}")
    return sum(values)


@dataclass
class SearchHits:
    records: list[EntryRecord] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # why each rejected row was refused
    rows: int = 0  # data rows in the answer, whatever came of them


def _split_ids(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,;|]+", value or "") if part]


def parse_search_csv(text: str, query: str = "", retrieved: str = "") -> SearchHits:
    """Entry records from the API's CSV answer; invalid ids are rejected with a reason.

    Multi-valued fields (fitted_pdbs) may be joined by commas, semicolons or spaces.
    """
    hits = SearchHits()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or "emdb_id" not in reader.fieldnames:
        raise ValueError(f"search answer has no emdb_id column (columns: {reader.fieldnames})")
    seen: set[str] = set()
    try:
        rows = list(reader)
    except csv.Error as exc:  # a field beyond the csv module's limit, a NUL byte, ...
        raise ValueError(f"search answer is not readable CSV: {exc}") from exc
    hits.rows = len(rows)
    for line, row in enumerate(rows, start=2):
        raw = (row.get("emdb_id") or "").strip()
        if not is_valid_emdb_id(raw):
            hits.rejected.append(f"line {line}: invalid EMDB id {raw!r}")
            continue
        emdb_id = normalize_emdb_id(raw)
        if emdb_id in seen:
            continue
        seen.add(emdb_id)
        pdbs = _split_ids(row.get("fitted_pdbs") or "")
        bad = [p for p in pdbs if not is_valid_pdb_id(p)]
        if bad:
            hits.rejected.append(f"line {line}: {emdb_id}: invalid PDB id(s) {bad!r} dropped")
        fitted = [normalize_pdb_id(p) for p in pdbs if is_valid_pdb_id(p)]
        release = (row.get("map_release_date") or "").strip()
        resolution = _resolution_text(row.get("resolution"))
        if resolution is None:
            hits.rejected.append(
                f"line {line}: {emdb_id}: resolution {row.get('resolution')!r} is not a "
                "positive finite number: left empty"
            )
        hits.records.append(
            EntryRecord(
                emdb_id=emdb_id,
                fitted_pdbs=",".join(dict.fromkeys(fitted)),
                resolution=resolution or "",
                method=_clean(row.get("structure_determination_method")),
                release_date=release[:10] if re.match(r"\d{4}-\d\d-\d\d", release) else "",
                source="search",
                query=query,
                retrieved=retrieved,
            )
        )
    return hits


def _resolution_text(value: str | None) -> str | None:
    """A resolution cell as written to the entry list ("" when absent); None when it is not a
    positive finite number (nan, inf, -3, 1e400 or text), which must not reach the list."""
    if value is None or not value.strip():
        return ""
    try:
        number = float(value)
    except ValueError:
        return None
    return f"{number:g}" if math.isfinite(number) and number > 0 else None


def _clean(value: str | None) -> str:
    """A free-text field made safe for one TSV cell."""
    return re.sub(r"[\t\r\n]+", " ", value or "").strip()


def add_map_sizes(records: list[EntryRecord], archive: Archive, workers: int = 4) -> list[str]:
    """Fill map_size_kbytes (and missing fitted ids) from each entry's header; return the
    problems met (a header that cannot be fetched leaves the size empty)."""
    problems: list[str] = []

    def one(record: EntryRecord) -> None:
        try:
            header = parse_header(archive.header_file(record.emdb_id))
        except DataError as exc:
            problems.append(f"{record.emdb_id}: {exc.reason}: {exc.message}")
            return
        if header.map_size_kbytes is not None:
            record.map_size_kbytes = str(header.map_size_kbytes)
        if not record.fitted_pdbs:
            valid = [normalize_pdb_id(p) for p in header.fitted_pdb_ids if is_valid_pdb_id(p)]
            record.fitted_pdbs = ",".join(dict.fromkeys(valid))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(
            tqdm(
                pool.map(one, records),
                total=len(records),
                desc="headers",
                unit="entry",
                disable=not sys.stderr.isatty(),
            )
        )
    return problems


@dataclass
class SearchResult:
    query: str
    url: str
    hits: SearchHits
    addition: Addition
    header_problems: list[str]


def run_search(
    query: SearchQuery,
    urls: ArchiveURLs,
    downloader: Downloader,
    entries_tsv: str | Path,
    header_archive: Archive | None = None,
    rows: int = DEFAULT_ROWS,
    workers: int = 4,
    when: datetime | None = None,
    deadline: float = DEFAULT_SEARCH_DEADLINE,
    check_count: bool = True,
) -> SearchResult:
    """Query EMDB, keep the raw CSV (<entries>.search-<time>.csv), and append the new entries
    to `entries_tsv`. Entries already listed keep their rows; nothing is removed.

    RuntimeError (nothing added) if the search or its count fails or passes `deadline`
    seconds, or if the answer has fewer rows than the archive counts."""
    solr = query.to_solr()
    url = search_url(urls.emdb_api, solr, rows)
    stamp = utc_timestamp(when)
    entries_tsv = Path(entries_tsv)
    raw = entries_tsv.with_name(f"{entries_tsv.stem}.search-{stamp.replace(':', '')}.csv")
    try:
        downloader.fetch(url, raw, verify_gzip=False, max_bytes=MAX_SEARCH_BYTES, deadline=deadline)
    except DownloadError as exc:
        raise RuntimeError(f"EMDB search failed: {exc.message}") from exc
    text = raw.read_text(encoding="utf-8", errors="replace")
    try:
        hits = parse_search_csv(text, query=solr, retrieved=stamp)
    except ValueError as exc:
        raise RuntimeError(f"EMDB search failed: {exc}") from exc
    if check_count:
        expected = _archive_count(urls, solr, downloader, raw.with_suffix(".count.json"), deadline)
        if expected > rows:
            raise RuntimeError(
                f"EMDB counts {expected} entries for the query, more than search.rows = {rows}:"
                " raise search.rows (nothing was added)"
            )
        if hits.rows < expected:
            raise RuntimeError(
                f"EMDB search answered {hits.rows} rows but the archive counts {expected}: a "
                "truncated answer (nothing was added; run the search again)"
            )
    problems = add_map_sizes(hits.records, header_archive, workers) if header_archive else []
    addition = add_entries(entries_tsv, hits.records)
    write_text_atomic(raw.with_suffix(".query.txt"), f"{solr}\n{url}\n{stamp}\n")
    return SearchResult(solr, url, hits, addition, problems)


def _archive_count(
    urls: ArchiveURLs, solr: str, downloader: Downloader, dest: Path, deadline: float
) -> int:
    url = count_url(urls.emdb_api, solr)
    try:
        downloader.fetch(url, dest, verify_gzip=False, max_bytes=MAX_COUNT_BYTES, deadline=deadline)
        return parse_count(dest.read_text(encoding="utf-8", errors="replace"))
    except DownloadError as exc:
        raise RuntimeError(f"EMDB count of the search failed: {exc.message}") from exc
    except ValueError as exc:
        raise RuntimeError(f"EMDB count of the search failed: {url}: {exc}") from exc


def search_from_config(config: dict[str, Any], entries_tsv: str | Path) -> tuple[SearchResult, str]:
    """run_search with the workflow config: the API and the header source (mirror or HTTP
    cache) from `archive`, HTTP behaviour from `download`. Returns the download summary too."""
    archive_config, download = config.get("archive", {}), config.get("download", {})
    archive = ArchiveSettings.from_config(archive_config)
    downloader = downloader_from_config(download, allow_http_downgrade=archive.allow_http_downgrade)
    urls = ArchiveURLs.from_settings(archive)
    headers: Archive
    if archive.mirror:
        headers = MirrorArchive(LocalMirror.at(archive.mirror))
    else:
        cache = LocalMirror.at(archive.cache or "archive")
        headers = HttpArchive(cache, urls, downloader, limits=DownloadLimits.from_config(download))
    search = SearchSettings.from_config(config.get("search", {}))
    with downloader:
        result = run_search(
            SearchQuery.from_settings(
                search, settings_from(ResolutionWindow, config.get("resolution", {}))
            ),
            urls,
            downloader,
            entries_tsv,
            header_archive=headers,
            rows=search.rows,
            workers=DownloadSettings.from_config(download).concurrency,
            deadline=search.deadline,
            check_count=search.check_count,
        )
    return result, downloader.stats.summary_line()
