"""EMDB search (against the loopback archive server) and the append-only entry list."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from cryosse.acquire.archive_settings import ArchiveURLs
from cryosse.acquire.download import Downloader
from cryosse.acquire.download_errors import DownloadError
from cryosse.acquire.http_archive import HttpArchive
from cryosse.acquire.search import (
    SEARCH_FIELDS,
    SearchQuery,
    parse_count,
    parse_search_csv,
    run_search,
    search_url,
)
from cryosse.io.entries import ENTRY_COLUMNS, EntryRecord, add_entries, read_entry_table
from cryosse.io.mirror import LocalMirror
from tests.support.archive_server import ArchiveServer, Fault


@pytest.fixture
def server(server: ArchiveServer) -> ArchiveServer:
    """The shared archive (conftest), without an obsolete list: the search tests count files."""
    del server.files["/wwpdb/obsolete.dat"]
    return server


CRYOSSE = Path(sys.executable).with_name("cryosse")

# The CSV shape of the EMDB search API (wt=csv): a header of the requested fields, one row per
# entry, multi-valued fields joined by commas inside quotes. Rows 4-6 are hostile or broken.
SEARCH_CSV = """\
emdb_id,resolution,structure_determination_method,fitted_pdbs,map_release_date,current_status
EMD-8518,6.1,singleParticle,5u8s,2016-12-21T00:00:00Z,REL
EMD-6149,5.0,singleParticle,"3j8g",2015-02-04T00:00:00Z,REL
EMD-5168,6.6,helical,"3mfp,1j6z",2010-06-01T00:00:00Z,REL
../../etc/passwd,5.5,singleParticle,1abc,2020-01-01T00:00:00Z,REL
EMD-12,7.0,helical,2abc,2020-01-01T00:00:00Z,REL
EMD-21457,3.2,singleParticle,"6vyb;rm -rf /",2020-02-19T00:00:00Z,REL
"""


def test_query_syntax() -> None:
    query = SearchQuery(5, 10, ("single particle", "helical"), date(2015, 1, 1), None)
    assert query.to_solr() == (
        'current_status:"REL" AND resolution:[5 TO 10] AND xref_links:"pdb" AND '
        '(structure_determination_method:"helical" OR '
        'structure_determination_method:"singleparticle") AND '
        "release_date:[2015-01-01T00:00:00Z TO *]"
    )
    # release_date is the searchable field; map_release_date is only an output field (fl)
    assert "map_release_date" not in SearchQuery(released_before=date(2020, 1, 1)).to_solr()
    assert (
        SearchQuery(released_before=date(2020, 1, 1))
        .to_solr()
        .endswith("release_date:[* TO 2020-01-01T23:59:59Z]")
    )
    assert SearchQuery().to_solr() == (
        'current_status:"REL" AND resolution:[5 TO 10] AND xref_links:"pdb"'
    )
    with pytest.raises(ValueError, match="unknown method"):
        SearchQuery(methods=('x" OR *:*',))
    url = search_url("http://h/emdb/api", SearchQuery().to_solr(), rows=10)
    path, _, params = url.partition("?")
    assert "/" not in path.removeprefix("http://h/emdb/api/search/")
    assert urllib.parse.parse_qs(params)["wt"] == ["csv"]


def test_csv_parsing_validates_every_id() -> None:
    hits = parse_search_csv(SEARCH_CSV, query="q", retrieved="t")
    assert [r.emdb_id for r in hits.records] == ["EMD-8518", "EMD-6149", "EMD-5168", "EMD-21457"]
    assert hits.records[2].fitted_pdbs == "3mfp,1j6z"
    assert hits.records[3].fitted_pdbs == "6vyb"  # the hostile part is dropped
    assert hits.records[0].release_date == "2016-12-21"
    assert len(hits.rejected) == 3
    assert any("'../../etc/passwd'" in r for r in hits.rejected)
    with pytest.raises(ValueError, match="no emdb_id column"):
        parse_search_csv("a,b\n1,2\n")


def test_search_writes_a_reproducible_entry_list(server: ArchiveServer, tmp_path: Path) -> None:
    query = SearchQuery(3, 10, released_after=date(2010, 1, 1))
    server.publish_search(query.to_solr(), SEARCH_CSV)
    # the parameters of EMDB's own client; the fake answers 400 to anything else, as Solr does
    # to an unknown field
    server.search_params = {
        "rows": "1000000",
        "fl": ",".join(SEARCH_FIELDS),
        "wt": "csv",
        "download": "false",
    }
    urls = ArchiveURLs.from_config(server.config())
    entries = tmp_path / "entries.tsv"
    when = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with Downloader(timeout=5, max_retries=1) as downloader:
        headers = HttpArchive(LocalMirror.at(tmp_path / "cache"), urls, downloader)
        result = run_search(query, urls, downloader, entries, headers, when=when)
    assert result.addition.added == ["EMD-8518", "EMD-6149", "EMD-5168", "EMD-21457"]
    # one request, the Solr query percent-encoded as a single path segment
    quoted = urllib.parse.quote(query.to_solr(), safe="")
    assert len(server.requests_for("/emdb/api/search/" + quoted)) == 1
    records = read_entry_table(entries)
    assert entries.read_text().splitlines()[0].split("\t") == ENTRY_COLUMNS
    first = records[0]
    assert (first.emdb_id, first.fitted_pdbs, first.resolution, first.method) == (
        "EMD-8518",
        "5u8s",
        "6.1",
        "singleParticle",
    )
    assert server.refused == []
    # from the entry's header: 55*81*91 floats + 1024 header bytes, in EMDB's kB (1000 bytes)
    assert first.map_size_kbytes == "1622"
    assert (first.source, first.query, first.retrieved) == (
        "search",
        query.to_solr(),
        "2026-11-25T12:00:00Z",
    )
    assert (tmp_path / "entries.search-2026-11-25T120000Z.csv").read_text() == SEARCH_CSV
    # The headers went to the cache, where acquisition will find them.
    assert (tmp_path / "cache/emdb/structures/EMD-8518/header/emd-8518-v30.xml").is_file()
    # No id from the answer reached the file system except validated ones.
    assert not list(tmp_path.rglob("*passwd*"))

    # Searching again appends nothing and changes no byte.
    before = entries.read_bytes()
    with Downloader(timeout=5, max_retries=1) as downloader:
        again = run_search(query, urls, downloader, entries, None, when=when)
    assert again.addition.added == [] and len(again.addition.already_present) == 4
    assert entries.read_bytes() == before


def test_add_entries_appends_only(tmp_path: Path) -> None:
    entries = tmp_path / "entries.tsv"
    add_entries(entries, [EntryRecord("EMD-8518"), EntryRecord("emd-6149")])
    before = entries.read_bytes()
    addition = add_entries(
        entries, [EntryRecord("EMD-6149"), EntryRecord("5168"), EntryRecord("../x")]
    )
    assert addition.added == ["EMD-5168"]
    assert addition.already_present == ["EMD-6149"]
    assert addition.invalid == ["../x"]
    assert entries.read_bytes().startswith(before)
    assert [r.emdb_id for r in read_entry_table(entries)] == ["EMD-8518", "EMD-6149", "EMD-5168"]


def test_cli_add_and_search(server: ArchiveServer, tmp_path: Path) -> None:
    query = SearchQuery(5, 10, ("helical",))
    server.publish_search(query.to_solr(), SEARCH_CSV)
    config = tmp_path / "config.yaml"
    entries = tmp_path / "entries.tsv"
    config.write_text(
        yaml.safe_dump(
            {
                "entries_file": str(entries),
                "archive": {**server.config(), "cache": str(tmp_path / "cache")},
                "download": {"retries": 1, "host_interval": 0.0},
            }
        )
    )
    added = subprocess.run(
        [str(CRYOSSE), "add", "EMD-3488", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    assert "added 1" in added.stdout
    refused = subprocess.run(
        [str(CRYOSSE), "add", "EMD-1;ls", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1 and "refused 'EMD-1;ls'" in refused.stderr
    found = subprocess.run(
        [str(CRYOSSE), "search", "--config", str(config), "--method", "helical"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert "found:   4 entries (3 rows refused)" in found.stdout
    assert "added:   4 new" in found.stdout
    assert "downloaded " in found.stdout
    # the whole list's cost, from the map sizes the search read from the EMDB headers
    assert found.stdout.strip().splitlines()[-4].startswith("estimate for 5 entries"), found.stdout
    rows = read_entry_table(entries)
    assert [r.emdb_id for r in rows] == [
        "EMD-3488",
        "EMD-8518",
        "EMD-6149",
        "EMD-5168",
        "EMD-21457",
    ]
    assert rows[0].source == "manual" and rows[1].source == "search"


def test_cli_fetch_downloads_listed_entries(server: ArchiveServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "entries": ["EMD-8518", "EMD-6149", "EMD-99999", "EMD-x"],
                "archive": {**server.config(), "cache": str(tmp_path / "cache")},
                "download": {"retries": 0},
                "resolution": {"min": 3.0, "max": 10.0},
            }
        )
    )
    done = subprocess.run(
        [str(CRYOSSE), "fetch", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "refused 'EMD-x'" in done.stderr
    assert "EMD-99999: header_missing" in done.stderr
    assert "header_missing: 1, kept: 2" in done.stdout
    # the cost is printed before anything is downloaded (sizes unknown: no entry list here)
    assert done.stdout.index("estimate for 3 entries") < done.stdout.index("downloaded ")
    # two headers, two maps, two models (each after two 404s for mmCIF); no obsolete list here
    assert "downloaded 6 files" in done.stdout
    assert (tmp_path / "cache/emdb/structures/EMD-6149/map/emd_6149.map.gz").is_file()
    # a map the server cannot send now: said, and exit 1 (a later fetch tries it again)
    server.add_fault("/emdb/structures/EMD-5168/map/emd_5168.map.gz", Fault("status", 503))
    again = subprocess.run(
        [str(CRYOSSE), "fetch", "--config", str(config), "EMD-5168", "EMD-8518"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert "EMD-5168: download_failed" in again.stderr
    assert again.stderr.splitlines()[-1] == (
        "cryosse fetch: 1 entries not downloaded; run it again"
    )


def test_fake_search_refuses_what_emdb_refuses(server: ArchiveServer, tmp_path: Path) -> None:
    """The test server answers a query on map_release_date (an output field only) with 400,
    so the pinned query above is tested against the real field names."""
    bad = 'current_status:"REL" AND map_release_date:[2015-01-01T00:00:00Z TO *]'
    server.publish_search(bad, SEARCH_CSV)
    url = search_url(server.url + "/emdb/api", bad)
    with (
        Downloader(timeout=5, max_retries=0) as downloader,
        pytest.raises(DownloadError, match="HTTP 400"),
    ):
        downloader.fetch(url, tmp_path / "answer.csv")
    assert server.refused == ["unknown query field 'map_release_date'"]


def test_truncated_answer_is_noticed(server: ArchiveServer, tmp_path: Path) -> None:
    """Fewer rows than the archive's own count (the facet endpoint): nothing is added."""
    query = SearchQuery(3, 10)
    server.publish_search(query.to_solr(), SEARCH_CSV, count=7)
    urls = ArchiveURLs.from_config(server.config())
    entries = tmp_path / "entries.tsv"
    with (
        Downloader(timeout=5, max_retries=0) as downloader,
        pytest.raises(RuntimeError, match="answered 6 rows but the archive counts 7"),
    ):
        run_search(query, urls, downloader, entries, None)
    assert not entries.exists()
    quoted = urllib.parse.quote(query.to_solr(), safe="")
    (count,) = server.requests_for("/emdb/api/facet/" + quoted)
    assert count.query == {"field": ["current_status"]}
    # more entries than search.rows asks for is said too
    server.publish_search(query.to_solr(), SEARCH_CSV, count=6)
    with (
        Downloader(timeout=5, max_retries=0) as downloader,
        pytest.raises(RuntimeError, match=r"more than search\.rows = 5"),
    ):
        run_search(query, urls, downloader, entries, None, rows=5)
    assert parse_count('{"current_status": {"REL": 4, "OBS": 1}}') == 5
    with pytest.raises(ValueError):
        parse_count("<html>")


def test_search_gives_up_on_a_trickling_server(server: ArchiveServer, tmp_path: Path) -> None:
    query = SearchQuery(3, 10)
    server.publish_search(query.to_solr(), SEARCH_CSV)
    quoted = urllib.parse.quote(query.to_solr(), safe="")
    server.add_fault("/emdb/api/search/" + quoted, Fault("trickle", seconds=0.2))
    urls = ArchiveURLs.from_config(server.config())
    # the deadline ends it, as its message says (no wall-clock assertion: flaky under load)
    with (
        Downloader(timeout=2, max_retries=3) as downloader,
        pytest.raises(RuntimeError, match="deadline"),
    ):
        run_search(query, urls, downloader, tmp_path / "entries.tsv", None, deadline=1.0)


def test_search_drops_impossible_resolutions_and_refuses_a_10_mb_line(
    server: ArchiveServer, tmp_path: Path
) -> None:
    """Rows whose resolution is nan, inf, negative or text keep an empty resolution (with a
    warning); an answer with one 10 MB line ends in one line, and the list is not written."""
    query = SearchQuery(5, 10)
    entries = tmp_path / "entries.tsv"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "entries_file": str(entries),
                "archive": {**server.config(), "cache": str(tmp_path / "cache")},
                "download": {"retries": 1, "host_interval": 0.0},
            }
        )
    )
    rows = ["EMD-8518,nan", "EMD-6149,inf", "EMD-5168,-6.6", "EMD-3488,1e400", "EMD-21457,6.1"]
    server.publish_search(query.to_solr(), "emdb_id,resolution\n" + "\n".join(rows) + "\n")
    search = [str(CRYOSSE), "search", "--config", str(config)]
    found = subprocess.run(search, capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr
    assert found.stderr.count("is not a positive finite number") == 4
    resolutions = {r.emdb_id: r.resolution for r in read_entry_table(entries)}
    assert resolutions == dict.fromkeys(["EMD-8518", "EMD-6149", "EMD-5168", "EMD-3488"], "") | {
        "EMD-21457": "6.1"
    }
    entries.unlink()
    one_line = "emdb_id,resolution\nEMD-8518," + "9" * 10**7 + "\n"
    server.publish_search(query.to_solr(), one_line, count=1)
    huge = subprocess.run(search, capture_output=True, text=True, check=False)
    assert huge.returncode == 1 and "Traceback" not in huge.stderr
    assert huge.stderr.splitlines() == [
        "cryosse search: EMDB search failed: search answer is not readable CSV: "
        "field larger than field limit (131072)"
    ]
    assert not entries.exists()
