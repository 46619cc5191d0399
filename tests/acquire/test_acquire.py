"""Acquisition over HTTP from a real loopback server playing EMDB/RCSB/PDBe/wwPDB (never the
internet), with injected faults. After each fault, either the correct file is in the cache and
the entry is acquired, or the entry is excluded with its reason; never a partial file under a
final name."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from pathlib import Path

import gemmi
import pytest

from cryosse.acquire.archive_settings import ArchiveURLs, DownloadLimits
from cryosse.acquire.download import Downloader
from cryosse.acquire.download_attempt import CHUNK_SIZE
from cryosse.acquire.download_errors import Rejected
from cryosse.acquire.http_archive import HttpArchive
from cryosse.acquire.locate import LocatedEntry, locate_entry
from cryosse.acquire.map_size import check_map_size
from cryosse.acquire.mirror_archive import MirrorArchive
from cryosse.core.reasons import Reason
from cryosse.io.mirror import LocalMirror
from cryosse.io.obsolete import parse_obsolete_list
from tests.conftest import DEMO_MIRROR, REPO
from tests.support.archive_server import ArchiveServer, Fault
from tests.support.demo import WIDE

MAP_8518 = "/emdb/structures/EMD-8518/map/emd_8518.map.gz"
HEADER_8518 = "/emdb/structures/EMD-8518/header/emd-8518-v30.xml"
MODEL_5U8S = "/rcsb/download/5U8S.pdb.gz"


@pytest.fixture
def sleeps() -> list[float]:
    return []


def http_archive(server: ArchiveServer, cache: Path, sleeps: list[float], **kw) -> HttpArchive:
    config = server.config()
    urls = ArchiveURLs.from_config(config)
    options = {"timeout": 2.0, "max_retries": 2, "sleep": sleeps.append, **kw}
    return HttpArchive(LocalMirror.at(cache), urls, Downloader(**options))


def acquire(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float], emdb: str = "EMD-8518", **kw
) -> LocatedEntry:
    archive = http_archive(server, tmp_path / "cache", sleeps, **kw)
    with archive.downloader:
        return locate_entry(emdb, archive, WIDE.resolution)


def sha(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def mirror_file(url_path: str) -> Path:
    if url_path.startswith("/emdb/"):
        return DEMO_MIRROR / "emdb" / url_path.removeprefix("/emdb/")
    name = url_path.rsplit("/", 1)[-1]
    return DEMO_MIRROR / "pdb" / name.lower()


def published_files(cache: Path) -> list[Path]:
    """Files under their final names (not .part-, not locks)."""
    return [
        p
        for p in cache.rglob("*")
        if p.is_file() and not p.name.startswith(".") and ".locks" not in p.parts
    ]


# -- the happy path: the same facts as reading the mirror --------------------------------------


def test_http_acquisition_matches_the_mirror(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    located = acquire(server, tmp_path, sleeps)
    from_mirror = locate_entry("EMD-8518", LocalMirror.at(DEMO_MIRROR), WIDE.resolution)
    assert located.status == "ok"
    assert located.map_sha256 == from_mirror.map_sha256
    assert [(m.pdb_id, m.sha256) for m in located.models] == [
        (m.pdb_id, m.sha256) for m in from_mirror.models
    ]
    # mmCIF first (404 at RCSB and PDBe), then the PDB format.
    assert located.models[0].source.endswith(MODEL_5U8S)
    assert [r.path for r in server.requests][-3:] == [
        "/rcsb/download/5U8S.cif.gz",
        "/pdbe/download/5u8s.cif",
        MODEL_5U8S,
    ]
    assert server.requests[0].headers["user-agent"].startswith("cryosse/")
    assert sleeps == []
    # A second acquisition reads the cache: no new request.
    before = len(server.requests)
    again = acquire(server, tmp_path, sleeps)
    assert again.map_sha256 == located.map_sha256 and len(server.requests) == before


# -- faults that a retry or a resume heals --------------------------------------------------------


def test_500_then_success(server: ArchiveServer, tmp_path: Path, sleeps: list[float]) -> None:
    server.add_fault(MAP_8518, Fault("status", status=500), Fault("status", status=503))
    located = acquire(server, tmp_path, sleeps)
    assert located.status == "ok"
    assert sha(located.map_path) == sha(mirror_file(MAP_8518))
    assert len(sleeps) == 2


def test_429_retry_after_is_honoured(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    server.add_fault(HEADER_8518, Fault("status", status=429, retry_after="7"))
    located = acquire(server, tmp_path, sleeps)
    assert located.status == "ok"
    assert sleeps == [7.0]


def test_dropped_connection_resumes_only_the_rest(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    size = mirror_file(MAP_8518).stat().st_size
    server.add_fault(MAP_8518, Fault("drop", keep=size // 2))
    located = acquire(server, tmp_path, sleeps)
    assert located.status == "ok"
    assert sha(located.map_path) == sha(mirror_file(MAP_8518))
    first, second = server.requests_for(MAP_8518)
    assert "range" not in first.headers
    assert second.headers["range"] == f"bytes={size // 2}-"


def test_truncated_body_with_correct_length_is_completed(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    # The server announces the full length, sends 1000 bytes and closes, twice.
    server.add_fault(MAP_8518, Fault("drop", keep=1000), Fault("drop", keep=1000))
    located = acquire(server, tmp_path, sleeps)
    assert located.status == "ok"
    assert sha(located.map_path) == sha(mirror_file(MAP_8518))
    ranges = [r.headers.get("range") for r in server.requests_for(MAP_8518)]
    assert ranges == [None, "bytes=1000-", "bytes=2000-"]


def test_slow_server_times_out_then_succeeds(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    server.add_fault(MAP_8518, Fault("slow", seconds=3.0))
    located = acquire(server, tmp_path, sleeps, timeout=0.5)
    assert located.status == "ok"
    assert len(server.requests_for(MAP_8518)) == 2 and len(sleeps) == 1


def test_corrupt_gzip_once_is_fetched_again(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    server.add_fault(MAP_8518, Fault("corrupt"))
    located = acquire(server, tmp_path, sleeps)
    assert located.status == "ok"
    assert sha(located.map_path) == sha(mirror_file(MAP_8518))
    # the second request starts from zero: the corrupt bytes were thrown away
    assert [r.headers.get("range") for r in server.requests_for(MAP_8518)] == [None, None]


# -- faults that exclude the entry, with a reason, and leave no file -----------------------------


@pytest.mark.parametrize(
    ("path", "faults", "reason"),
    [
        (MAP_8518, [Fault("corrupt")] * 3, Reason.DOWNLOAD_FAILED),
        (MAP_8518, [Fault("short_length", keep=5000)] * 3, Reason.DOWNLOAD_FAILED),
        (MAP_8518, [Fault("status", status=404)], Reason.MAP_MISSING),
        (MAP_8518, [Fault("status", status=500)] * 3, Reason.DOWNLOAD_FAILED),
        (MAP_8518, [Fault("slow", seconds=3.0)] * 3, Reason.DOWNLOAD_FAILED),
        (HEADER_8518, [Fault("status", status=410)], Reason.HEADER_MISSING),
        (HEADER_8518, [Fault("short_length", keep=300)] * 3, Reason.DOWNLOAD_FAILED),
    ],
    ids=[
        "corrupt_gzip",
        "wrong_content_length",
        "map_404",
        "always_500",
        "always_slow",
        "header_410",
        "header_cut",
    ],
)
def test_unrecoverable_faults_exclude_the_entry(
    server: ArchiveServer,
    tmp_path: Path,
    sleeps: list[float],
    path: str,
    faults: list[Fault],
    reason: Reason,
) -> None:
    server.add_fault(path, *faults)
    located = acquire(server, tmp_path, sleeps, timeout=0.5)
    assert (located.status, located.reason) == ("excluded", reason.value), located.message
    cached = {p.name for p in published_files(tmp_path / "cache")}
    assert path.rsplit("/", 1)[-1] not in cached
    # Verification failures delete the bytes; these transient failures never received any.
    assert not list((tmp_path / "cache").rglob(".part-*"))


@pytest.mark.parametrize("other", ["EMD-6149", "EMD-21457"], ids=["larger", "smaller"])
def test_map_not_matching_its_header_size(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float], other: str
) -> None:
    """An intact gzip of the wrong map served as EMD-8518's: a permanent failure at once,
    never downloaded again (a larger one stops at the header's size, a smaller one fails the
    size check)."""
    number = other.removeprefix("EMD-")
    server.files[MAP_8518] = mirror_file(
        f"/emdb/structures/{other}/map/emd_{number}.map.gz"
    ).read_bytes()
    located = acquire(server, tmp_path, sleeps)
    assert located.reason == Reason.MAP_SIZE_MISMATCH.value
    assert "the header says" in located.message
    assert len(server.requests_for(MAP_8518)) == 1 and sleeps == []
    assert not (tmp_path / "cache/emdb/structures/EMD-8518/map/emd_8518.map.gz").exists()
    assert not list((tmp_path / "cache").rglob(".part-*"))


def test_403_is_transient_never_an_exclusion(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    server.add_fault(MAP_8518, Fault("status", status=403))
    assert acquire(server, tmp_path / "once", sleeps).status == "ok"  # retried, then served
    server.add_fault(MODEL_5U8S, *[Fault("status", status=403)] * 3)
    archive = http_archive(server, tmp_path / "always", sleeps)
    with archive.downloader:
        located = locate_entry("EMD-8518", archive, WIDE.resolution)
    (model,) = located.models
    assert model.reason == Reason.DOWNLOAD_FAILED.value  # not model_missing
    assert any("HTTP 403" in failure for failure in archive.transient_failures)


def test_chunked_bodies_without_length(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    """Every answer chunked, with no Content-Length: the same files as the mirror."""
    server.chunked = True
    located = acquire(server, tmp_path, sleeps)
    assert located.status == "ok", located.message
    assert sha(located.map_path) == sha(mirror_file(MAP_8518))
    assert sha(located.models[0].path) == sha(mirror_file(MODEL_5U8S))
    assert sleeps == []


@pytest.mark.parametrize("fault", [None, Fault("no_length")], ids=["announced", "unannounced"])
def test_oversized_header_is_refused_at_once(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float], fault: Fault | None
) -> None:
    """A header body beyond its cap (an endless body, here 3 MB against a 100 kB cap) is cut
    off at the cap, once, and excluded; nothing of it stays on disk."""
    original = server.files[HEADER_8518]
    server.files[HEADER_8518] = original.replace(b"</emd>", b"<!--" + b"x" * 3_000_000 + b"-->")
    if fault is not None:
        server.add_fault(HEADER_8518, fault)
    archive = http_archive(server, tmp_path / "cache", sleeps)
    archive = HttpArchive(
        archive.cache, archive.urls, archive.downloader, limits=DownloadLimits(header=100_000)
    )
    with archive.downloader:
        located = locate_entry("EMD-8518", archive, WIDE.resolution)
    assert (located.status, located.reason) == ("excluded", Reason.DOWNLOAD_FAILED.value)
    assert "allowed" in located.message
    assert len(server.requests_for(HEADER_8518)) == 1 and sleeps == []
    assert not published_files(tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob(".part-*"))
    assert archive.downloader.stats.bytes <= 100_000 + CHUNK_SIZE  # cut within one chunk


def test_trickling_server_meets_the_deadline(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    """One byte every 0.2 s never trips the 2 s read timeout; the 1 s deadline ends it, as a
    transient failure (a later run tries again). The message says the deadline ended it (no
    wall-clock assertion: they fail at random under load)."""
    server.add_fault(HEADER_8518, Fault("trickle", seconds=0.2))
    archive = http_archive(server, tmp_path / "cache", sleeps, deadline=1.0)
    with archive.downloader:
        located = locate_entry("EMD-8518", archive, WIDE.resolution)
    assert located.reason == Reason.DOWNLOAD_FAILED.value
    assert "deadline" in located.message and archive.transient_failures
    assert not published_files(tmp_path / "cache")


def test_extended_pdb_ids_keep_the_prefix_lower_case(server: ArchiveServer) -> None:
    urls = ArchiveURLs.from_config(server.config())
    rcsb, pdbe, _ = urls.model_urls("PDB_00005U8S")
    assert rcsb.endswith("/rcsb/download/pdb_00005U8S.cif.gz")
    assert pdbe.endswith("/pdbe/download/pdb_00005u8s.cif")
    assert urls.model_urls("5u8s")[0].endswith("/rcsb/download/5U8S.cif.gz")


class FakeClock:
    """A clock that moves only when the downloader sleeps on it (or the test says so)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_requests_to_one_host_are_spaced(server: ArchiveServer, tmp_path: Path) -> None:
    """Spacing on an injected clock (was wall-clock gaps measured at the server, which failed
    under load): back-to-back fetches wait out the interval; time spent elsewhere counts
    towards it; another host has its own slot. The wall-clock figure: benchmarks/download.py."""
    clock = FakeClock()
    with Downloader(
        timeout=2.0, max_retries=0, host_interval=0.15, sleep=clock.sleep, clock=clock
    ) as downloader:
        starts = []
        for name, work in (("a", 0.0), ("b", 0.0), ("c", 0.1), ("d", 0.2)):
            clock.now += work  # the caller's own work between two fetches
            downloader.fetch(server.url + HEADER_8518, tmp_path / f"{name}.xml")
            starts.append(clock.now)
        other = server.url.replace("127.0.0.1", "localhost")
        downloader.fetch(other + HEADER_8518, tmp_path / "e.xml")
    assert len(server.requests_for(HEADER_8518)) == 5
    assert clock.sleeps == pytest.approx([0.15, 0.05])  # b waits; c waits the rest; d none
    assert starts == pytest.approx([0.0, 0.15, 0.30, 0.50])
    assert all(b - a >= 0.15 - 1e-9 for a, b in itertools.pairwise(starts))
    assert clock.now == pytest.approx(0.50)  # localhost: a fresh slot, no wait


def test_mirror_map_gets_the_size_check(mirror_copy: Path) -> None:
    """A mirror map that is not its header's (here EMD-6149's map under EMD-8518's name) is
    excluded before anything reads it, as a download would be."""
    entry = mirror_copy / "emdb/structures/EMD-8518/map/emd_8518.map.gz"
    entry.write_bytes((mirror_copy / "emdb/structures/EMD-6149/map/emd_6149.map.gz").read_bytes())
    located = locate_entry("EMD-8518", MirrorArchive(LocalMirror.at(mirror_copy)), WIDE.resolution)
    assert (located.status, located.reason) == ("excluded", Reason.MAP_SIZE_MISMATCH.value)


# EMD-25107 in EMDB's own recorded header (emdb-empiar/sfftk test data): a 220³ float32 map,
# 1024 + 220**3 * 4 = 42,593,024 bytes, has <map size_kbytes="42593">: units of 1000 bytes,
# floored (EMDB's XML-to-mmCIF translator multiplies by 1000). Facts of the real archive, not of
# our own header writer.
EMD_25107_BYTES = 42_593_024
EMD_25107_SIZE_KBYTES = 42593


def test_map_size_unit_is_that_of_the_real_archive(tmp_path: Path) -> None:
    assert EMD_25107_BYTES == 1024 + 220**3 * 4
    plain = tmp_path / "emd_25107.map"
    with plain.open("wb") as handle:  # sparse: the size is what counts
        handle.truncate(EMD_25107_BYTES)
    packed = tmp_path / "emd_25107.map.gz"
    with gzip.open(packed, "wb", compresslevel=1) as handle:
        handle.write(b"\0" * EMD_25107_BYTES)
    for path in (plain, packed):
        check_map_size(path, EMD_25107_SIZE_KBYTES)
        check_map_size(path, None)
        # the KiB reading (41595 "kB" for this map) is off by a megabyte: refused
        with pytest.raises(Rejected, match="header says 41595 kB"):
            check_map_size(path, round(EMD_25107_BYTES / 1024))
    # a header that rounds instead of flooring still passes; 2 kB off does not
    check_map_size(plain, EMD_25107_SIZE_KBYTES + 1)
    with pytest.raises(ValueError):
        check_map_size(plain, EMD_25107_SIZE_KBYTES + 3)


# -- models: RCSB -> PDBe fallback, all missing, obsolete ids ------------------------------------


def test_model_falls_back_from_rcsb_to_pdbe(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    """A real mmCIF of the PDB archive (1a7g, with the residue list that verifies it) from
    PDBe when RCSB fails; the PDB format is never asked for."""
    real = REPO.parent / "shared/structures/1a7g.cif.gz"
    if not real.is_file():
        pytest.skip(f"{real} is not at hand")
    retarget_header(server, "1a7g")
    cif = gzip.decompress(real.read_bytes())
    server.files["/pdbe/download/1a7g.cif"] = cif
    server.files["/rcsb/download/1A7G.cif.gz"] = gzip.compress(cif)
    server.add_fault("/rcsb/download/1A7G.cif.gz", *[Fault("status", status=503)] * 3)
    located = acquire(server, tmp_path, sleeps)
    (model,) = located.models
    assert model.reason is None and model.source.endswith("/pdbe/download/1a7g.cif")
    assert Path(model.path).name == "1a7g.cif"
    assert (model.verification or "").startswith(
        "its Content-Length received in full; content verified: the 82 modelled residues"
    )
    assert not server.requests_for("/rcsb/download/1A7G.pdb.gz"), "the PDB format is last"


def test_model_missing_everywhere(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    del server.files[MODEL_5U8S]
    located = acquire(server, tmp_path, sleeps)
    (model,) = located.models
    assert model.reason == Reason.MODEL_MISSING.value
    assert "HTTP 404" in (model.message or "")


OBSOLETE_DAT = """ LIST OF OBSOLETE COORDINATE ENTRIES AND SUCCESSORS
OBSLTE    01-JAN-20 1AAA     1BBB
OBSLTE    01-JAN-21 1BBB     5U8S
OBSLTE    01-JAN-22 9ZZZ
"""


def retarget_header(server: ArchiveServer, pdb_id: str) -> None:
    text = (
        server.files[HEADER_8518]
        .decode()
        .replace("<pdb_id>5u8s</pdb_id>", f"<pdb_id>{pdb_id}</pdb_id>")
    )
    assert pdb_id in text
    server.files[HEADER_8518] = text.encode()


def test_obsolete_model_followed_to_its_successor(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    server.files["/wwpdb/obsolete.dat"] = OBSOLETE_DAT.encode()
    retarget_header(server, "1aaa")
    located = acquire(server, tmp_path, sleeps)
    (model,) = located.models
    assert (model.pdb_id, model.replaces, model.reason) == ("5u8s", "1aaa", None)
    assert located.obsolete_list.endswith("obsolete.dat")

    from cryosse.curate.entry import curate_entry

    result = curate_entry(located, WIDE, tmp_path / "samples")
    replaced = [r for r in result.rows if r.status == "replaced"]
    assert [(r.pdb_id, r.reason) for r in replaced] == [("1aaa", "model_superseded")]
    assert "5u8s" in replaced[0].message
    assert [r.status for r in result.rows if r.level == "entry"] == ["kept"]


def test_withdrawn_model_is_excluded(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    server.files["/wwpdb/obsolete.dat"] = OBSOLETE_DAT.encode()
    retarget_header(server, "9zzz")
    located = acquire(server, tmp_path, sleeps)
    (model,) = located.models
    assert model.reason == Reason.OBSOLETE_MODEL.value
    assert not server.requests_for("/rcsb/download/9ZZZ.cif.gz"), "no download of a withdrawn id"


def test_obsolete_list_parsing_and_cycles() -> None:
    cycle = "OBSLTE 01-JAN-22 2AAA 2BBB\nOBSLTE 01-JAN-22 2BBB 2AAA 3CCC\nOBSLTE x ../etc\n"
    table = parse_obsolete_list(OBSOLETE_DAT + cycle)
    assert table.current_ids("1aaa") == ["5u8s"]
    assert table.current_ids("9zzz") == []
    assert table.current_ids("5u8s") == ["5u8s"]
    assert table.current_ids("2aaa") == ["3ccc"]
    assert "../etc" not in str(table.successors)


def test_mirror_obsolete_list(mirror_copy: Path) -> None:
    assert (
        "no pdb/data/status/obsolete.dat"
        in MirrorArchive(LocalMirror.at(mirror_copy)).obsolete_list().source
    )
    status = mirror_copy / "pdb/data/status"
    status.mkdir(parents=True)
    (status / "obsolete.dat").write_text("OBSLTE    01-JAN-20 5U8S     3J8G\n")
    located = locate_entry("EMD-8518", LocalMirror.at(mirror_copy), WIDE.resolution)
    assert [(m.pdb_id, m.replaces) for m in located.models] == [("3j8g", "5u8s")]


def test_unreachable_obsolete_list_is_recorded(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    del server.files["/wwpdb/obsolete.dat"]
    located = acquire(server, tmp_path, sleeps)
    assert located.status == "ok"
    assert "obsolete list unavailable" in located.obsolete_list


# -- concurrency: a model shared by entries is downloaded once -----------------------------------


def test_parallel_entries_share_one_download(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # Four entries, copies of EMD-8518, all fitted with 5u8s.
    ids = ["EMD-8518"]
    for number in ("90001", "90002", "90003"):
        for suffix, data in list(server.files.items()):
            if suffix.startswith("/emdb/structures/EMD-8518/"):
                new = suffix.replace("8518", number)
                server.files[new] = (
                    data.replace(b"8518", number.encode()) if new.endswith(".xml") else data
                )
        ids.append(f"EMD-{number}")
    archive = http_archive(server, tmp_path / "cache", sleeps)
    with archive.downloader, ThreadPoolExecutor(4) as pool:
        located = list(pool.map(lambda e: locate_entry(e, archive, WIDE.resolution), ids))
    assert [e.status for e in located] == ["ok"] * 4
    assert len(server.requests_for(MODEL_5U8S)) == 1
    assert len(server.requests_for("/wwpdb/obsolete.dat")) == 1
    assert archive.downloader.stats.files == 4 + 4 + 1 + 1  # headers, maps, obsolete list, model
    assert "downloaded 10 files" in archive.downloader.stats.summary_line()


def test_acquired_record_lists_downloads(server: ArchiveServer, tmp_path: Path) -> None:
    from cryosse.acquire.stage import run_acquire

    config = {**server.config(), "cache": str(tmp_path / "cache")}
    out = tmp_path / "EMD-8518.json"
    run_acquire(
        emdb_id="EMD-8518",
        archive=config,
        download={"retries": 1},
        resolution={"min": 3},
        out_json=out,
    )
    record = json.loads(out.read_text())
    assert record["status"] == "ok"
    # header, map, obsolete list, model
    assert [d["result"] for d in record["downloads"]].count("ok") == 4
    assert record["download_summary"].startswith("downloaded 4 files")


def test_transient_failure_fails_the_job_and_a_later_run_succeeds(
    server: ArchiveServer, tmp_path: Path
) -> None:
    from cryosse.acquire.stage import TransientDownloadError, run_acquire

    config = {**server.config(), "cache": str(tmp_path / "cache")}
    download = {"retries": 1, "backoff": 0.0}
    out = tmp_path / "EMD-8518.json"
    server.add_fault(MODEL_5U8S, *[Fault("status", status=503)] * 2)
    with pytest.raises(TransientDownloadError, match="run again later"):
        run_acquire(
            emdb_id="EMD-8518",
            archive=config,
            download=download,
            resolution={"min": 3},
            out_json=out,
        )
    assert not out.exists()  # nothing recorded: Snakemake sees a failed job, not an exclusion
    # The server recovers: the next run acquires the entry, reusing what was already cached.
    located = run_acquire(
        emdb_id="EMD-8518",
        archive=config,
        download=download,
        resolution={"min": 3},
        out_json=out,
    )
    assert located.status == "ok" and located.models[0].reason is None
    assert len(server.requests_for(MAP_8518)) == 1


@pytest.mark.parametrize(
    "fault", [Fault("no_length"), Fault("short_length", keep=30_000)], ids=["no_length", "cut"]
)
def test_plain_text_model_must_be_checkable(
    server: ArchiveServer, tmp_path: Path, sleeps: list[float], fault: Fault
) -> None:
    """An uncompressed mmCIF has no checksum: one served without a length, or cut inside a
    line, is refused (it could be a silently truncated model) and the next source is used."""
    structure = gemmi.read_structure(str(DEMO_MIRROR / "pdb/5u8s.pdb.gz"))
    server.files["/pdbe/download/5u8s.cif"] = structure.make_mmcif_document().as_string().encode()
    server.add_fault("/pdbe/download/5u8s.cif", *[fault] * 3)
    located = acquire(server, tmp_path, sleeps)
    (model,) = located.models
    assert model.reason is None and model.source.endswith(MODEL_5U8S)
    assert not (tmp_path / "cache/pdb/5u8s.cif").exists()
