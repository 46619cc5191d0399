"""What acquisition verifies beyond the transfer (issue 26): a plain-text model cut at a line end,
an https archive redirecting to http, a map of the right size but the wrong content.

Real loopback servers (HTTP, and HTTPS with a certificate made by the openssl command), the demo
mirror's files, the real EMDB maps of ../shared/realdata's demo pairs, and real wwPDB mmCIF files
of ../shared/structures; nothing is mocked.
"""

from __future__ import annotations

import gzip
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gemmi
import mrcfile
import numpy as np
import pytest

from cryosse.acquire.archive import ArchiveConfigError
from cryosse.acquire.archive_settings import ArchiveURLs
from cryosse.acquire.download import Downloader
from cryosse.acquire.http_archive import HttpArchive
from cryosse.acquire.locate import LocatedEntry, locate_entry
from cryosse.acquire.mirror_archive import MirrorArchive
from cryosse.acquire.model_checks import check_model_content
from cryosse.acquire.verification import NOT_VERIFIABLE
from cryosse.core.config import ResolutionWindow
from cryosse.core.reasons import Reason
from cryosse.io.mirror import LocalMirror
from tests.conftest import DEMO_MIRROR, REPO
from tests.support.archive_server import ArchiveServer, Fault

WINDOW = ResolutionWindow(3.0, 10.0)
STRUCTURES = REPO.parent / "shared" / "structures"
HEADER_8518 = "/emdb/structures/EMD-8518/header/emd-8518-v30.xml"
MAP_8518 = "/emdb/structures/EMD-8518/map/emd_8518.map.gz"
PDBE_5U8S = "/pdbe/download/5u8s.cif"
MODEL_5U8S = "/rcsb/download/5U8S.pdb.gz"
PDBE_1A7G = "/pdbe/download/1a7g.cif"


def acquire(server: ArchiveServer, cache: Path, emdb: str = "EMD-8518") -> LocatedEntry:
    urls = ArchiveURLs.from_config(server.config())
    downloader = Downloader(timeout=2.0, max_retries=2, sleep=lambda _: None)
    with downloader:
        return locate_entry(emdb, HttpArchive(LocalMirror.at(cache), urls, downloader), WINDOW)


def cached_models(cache: Path) -> list[str]:
    """The files in the cache's model folder, hidden ones included (none may be left aside)."""
    return sorted(p.name for p in (cache / "pdb").iterdir() if p.is_file())


def atoms_in(path: str | Path) -> int:
    return gemmi.read_structure(str(path))[0].count_atom_sites()


# -- 1. a plain-text model cut at a line end -----------------------------------------------------


def gemmi_cif_5u8s() -> bytes:
    """The demo's 5u8s (1696 atoms) as plain mmCIF, written by gemmi: no residue list."""
    structure = gemmi.read_structure(str(DEMO_MIRROR / "pdb/5u8s.pdb.gz"))
    return structure.make_mmcif_document().as_string().encode()


def cut_after_atom(text: bytes, atoms: int) -> int:
    """The byte offset of the line end after the `atoms`-th ATOM/HETATM row."""
    offset, seen = 0, 0
    for line in text.splitlines(keepends=True):
        offset += len(line)
        if line.startswith((b"ATOM", b"HETATM")):
            seen += 1
            if seen == atoms:
                return offset
    raise AssertionError("fewer atoms than asked for")


def test_plain_model_cut_at_a_line_end_is_not_cached(server: ArchiveServer, tmp_path: Path) -> None:
    """The issue's case: PDBe serves 5u8s.cif with a short Content-Length at a line end, so the
    body is complete as announced and parses, with 234 of 1696 atoms. Nothing in the file can
    tell: it is set aside, the verifiable source (the PDB format, gzip) is used instead."""
    cif = gemmi_cif_5u8s()
    server.files[PDBE_5U8S] = cif
    cut = cut_after_atom(cif, 234)
    server.add_fault(PDBE_5U8S, *[Fault("short_length", keep=cut)] * 3)
    located = acquire(server, tmp_path / "cache")
    (model,) = located.models
    assert model.reason is None and model.source.endswith(MODEL_5U8S)
    assert atoms_in(model.path) == 1696
    assert (model.verification or "").startswith("gzip CRC-32 and length verified")
    assert cached_models(tmp_path / "cache") == ["5u8s.pdb.gz"], "neither cached nor set aside"


def test_unverifiable_plain_model_is_the_last_resort_and_says_so(
    server: ArchiveServer, tmp_path: Path
) -> None:
    """No verifiable source serves the model: the plain one is used, and the record says that
    only its length vouched for it."""
    server.files[PDBE_5U8S] = gemmi_cif_5u8s()
    del server.files[MODEL_5U8S]
    located = acquire(server, tmp_path / "cache")
    (model,) = located.models
    assert model.reason is None and model.source.endswith(PDBE_5U8S)
    assert atoms_in(model.path) == 1696
    assert "not verifiable beyond its length" in (model.verification or "")
    assert "no source served a model that can be verified" in (model.verification or "")
    assert cached_models(tmp_path / "cache") == ["5u8s.cif"]


def archive_cif(pdb_id: str) -> bytes:
    """A real mmCIF of the PDB archive (wwPDB's writer: _pdbx_poly_seq_scheme included)."""
    path = STRUCTURES / f"{pdb_id}.cif.gz"
    if not path.is_file():
        pytest.skip(f"{path} is not at hand")
    return gzip.decompress(path.read_bytes())


def holed(text: bytes, atoms: int) -> bytes:
    """The file without its last `atoms` ATOM rows, everything after them kept (a block lost
    in transit, the residue list still there)."""
    lines = text.splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if line.startswith(b"ATOM")]
    lost = set(rows[-atoms:])
    return b"".join(line for i, line in enumerate(lines) if i not in lost)


def test_archive_mmcif_is_verified_by_its_residue_list(tmp_path: Path) -> None:
    """1a7g as the archive writes it: every residue _pdbx_poly_seq_scheme marks as modelled
    has atoms. Atoms lost before the list: refused. Cut at a line end inside _atom_site (the
    list comes after it): the file parses, and nothing in it can vouch for it."""
    text = archive_cif("1a7g")
    assert text.index(b"_atom_site.") < text.index(b"_pdbx_poly_seq_scheme.")
    whole = tmp_path / "whole.cif"
    whole.write_bytes(text)
    assert check_model_content(whole).startswith("verified: the 82 modelled residues")
    lost = tmp_path / "holed.cif"
    lost.write_bytes(holed(text, 50))
    with pytest.raises(ValueError, match=r"of the 82 residues .* the file is cut"):
        check_model_content(lost)
    cut = tmp_path / "cut.cif"
    cut.write_bytes(text[: cut_after_atom(text, 300)])
    assert atoms_in(cut) == 300  # it parses
    assert check_model_content(cut).startswith(f"{NOT_VERIFIABLE} beyond its length")


def test_pdb_format_master_record_counts_the_atoms(tmp_path: Path) -> None:
    """5me2 carries a MASTER record (4468 coordinates): the whole file is verified by it, a file
    missing atoms before it is refused, a file cut before it is not verifiable."""
    lines = gzip.decompress((DEMO_MIRROR / "pdb/5me2.pdb.gz").read_bytes()).splitlines(True)
    whole = tmp_path / "whole.pdb"
    whole.write_bytes(b"".join(lines))
    assert (
        check_model_content(whole)
        == "verified: 4468 ATOM/HETATM records, as its MASTER record states"
    )
    first_atom = next(i for i, line in enumerate(lines) if line.startswith(b"ATOM"))
    holed = tmp_path / "holed.pdb"
    holed.write_bytes(b"".join(lines[:first_atom] + lines[first_atom + 10 :]))
    with pytest.raises(ValueError, match="4458 ATOM/HETATM records, its MASTER record says 4468"):
        check_model_content(holed)
    cut = tmp_path / "cut.pdb"
    cut.write_bytes(b"".join(lines[: first_atom + 100]))
    assert check_model_content(cut).startswith(NOT_VERIFIABLE)


@pytest.mark.parametrize(
    ("damage", "requests"), [("cut", 1), ("holed", 3)], ids=["cut_at_a_line_end", "holed"]
)
def test_damaged_archive_mmcif_falls_back_to_a_verified_source(
    server: ArchiveServer, tmp_path: Path, damage: str, requests: int
) -> None:
    """PDBe serves a real archive mmCIF (1a7g) damaged: cut at a line end (nothing vouches for
    it: set aside, one request), or missing atoms its residue list names (refused on every
    attempt). Either way the PDB format (gzip) serves the model and no .cif is cached."""
    text = archive_cif("1a7g")
    header = server.files[HEADER_8518].decode()
    server.files[HEADER_8518] = header.replace(
        "<pdb_id>5u8s</pdb_id>", "<pdb_id>1a7g</pdb_id>"
    ).encode()
    if damage == "cut":
        server.files[PDBE_1A7G] = text
        server.add_fault(PDBE_1A7G, Fault("short_length", keep=cut_after_atom(text, 300)))
    else:
        server.files[PDBE_1A7G] = holed(text, 50)
    pdb_format = gemmi.read_structure(str(STRUCTURES / "1a7g.cif.gz")).make_pdb_string()
    server.files["/rcsb/download/1A7G.pdb.gz"] = gzip.compress(pdb_format.encode())
    located = acquire(server, tmp_path / "cache")
    (model,) = located.models
    assert model.reason is None, model.message
    assert model.source.endswith("/rcsb/download/1A7G.pdb.gz")
    assert len(server.requests_for(PDBE_1A7G)) == requests
    assert cached_models(tmp_path / "cache") == ["1a7g.pdb.gz"]


# -- 2. an https archive redirecting to http -----------------------------------------------------


@pytest.fixture
def https_redirector(
    tmp_path: Path, server: ArchiveServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 answering every GET with a 301 to the same path on the
    plain-HTTP archive server; its self-signed certificate is trusted through
    REQUESTS_CA_BUNDLE, as a site's own CA bundle would be."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    files = ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run([openssl, *request, *files, *names], check=True, capture_output=True)
    target = server.url

    class Redirect(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def https_config(server: ArchiveServer, https: str) -> dict[str, object]:
    return {
        key: (
            [url.replace(server.url, https) for url in value]
            if isinstance(value, list)
            else value.replace(server.url, https)
            if isinstance(value, str)
            else value
        )
        for key, value in server.config().items()
    }


def test_https_redirect_to_http_is_refused(
    server: ArchiveServer, https_redirector: str, tmp_path: Path
) -> None:
    """The header's https URL answers 301 to http://: refused before anything is sent in clear
    text, as a configuration error naming both URLs; no record, no exclusion, no retry."""
    from cryosse.acquire.stage import run_acquire

    config = {**https_config(server, https_redirector), "cache": str(tmp_path / "cache")}
    out = tmp_path / "acquired.json"
    with pytest.raises(ArchiveConfigError) as refused:
        run_acquire(
            emdb_id="EMD-8518",
            archive=config,
            download={"retries": 2},
            resolution={"min": 3},
            out_json=out,
        )
    message = str(refused.value)
    assert "\n" not in message
    assert f"{https_redirector}{HEADER_8518} redirects to {server.url}{HEADER_8518}" in message
    assert "archive.allow_http_downgrade" in message
    assert server.requests == [], "the http:// address was never asked"
    assert not out.exists()


def test_https_downgrade_is_followed_when_configured(
    server: ArchiveServer, https_redirector: str, tmp_path: Path
) -> None:
    from cryosse.acquire.stage import run_acquire

    config = {
        **https_config(server, https_redirector),
        "cache": str(tmp_path / "cache"),
        "allow_http_downgrade": True,
    }
    located = run_acquire(
        emdb_id="EMD-8518",
        archive=config,
        download={"retries": 2},
        resolution={"min": 3},
        out_json=tmp_path / "a.json",
    )
    assert located.status == "ok" and located.models[0].reason is None
    assert {r.path for r in server.requests} >= {HEADER_8518, MAP_8518, MODEL_5U8S}


def test_search_refuses_the_downgrade_too(
    server: ArchiveServer, https_redirector: str, tmp_path: Path
) -> None:
    """`cryosse search` reads archive.allow_http_downgrade as acquisition does: the EMDB API's
    https address redirecting to http fails the search with the reason, and adds nothing."""
    from cryosse.acquire.search import search_from_config

    config = {
        "archive": {**https_config(server, https_redirector), "cache": str(tmp_path / "cache")},
        "download": {"retries": 1},
        "resolution": {"min": 5.0, "max": 10.0},
    }
    entries = tmp_path / "entries.tsv"
    with pytest.raises(RuntimeError, match=r"EMDB search failed: https://.* redirects to http://"):
        search_from_config(config, entries)
    assert not entries.exists() and server.requests == []


def test_the_setting_is_in_the_schema() -> None:
    from cryosse.core.config import complete_config, schema

    assert complete_config({})["archive"]["allow_http_downgrade"] is False
    archive = schema()["properties"]["archive"]["properties"]
    assert archive["allow_http_downgrade"] == {
        "type": "boolean",
        "default": False,
        "description": archive["allow_http_downgrade"]["description"],
    }
    assert "allow_http_downgrade: false" in (REPO / "config/config.yaml").read_text()


# -- 3. a map of the right size but the wrong content ----------------------------------------------


def statistics_of(data: np.ndarray) -> dict[str, float]:
    values = data.astype(np.float64)
    return {
        "minimum": values.min(),
        "maximum": values.max(),
        "average": values.mean(),
        "std": values.std(),
    }


def with_statistics(header: bytes, stats: dict[str, float]) -> bytes:
    """The header with map/statistics as EMDB's v3 headers publish them (6 digits)."""
    element = (
        "<statistics>"
        + "".join(f"<{name}>{value:.6g}</{name}>" for name, value in stats.items())
        + "</statistics>\n    "
    )
    text = header.decode()
    assert "<pixel_spacing>" in text
    return text.replace("<pixel_spacing>", element + "<pixel_spacing>", 1).encode()


def map_of(path: Path) -> np.ndarray:
    with mrcfile.open(path, permissive=True) as handle:
        return np.array(handle.data)


def other_map_of_the_same_size(template: bytes) -> bytes:
    """EMD-8518's map file with its data replaced by a crop of EMD-6149's real map (another
    real cryo-EM map): the same header, size and gzip integrity, the wrong content."""
    raw = gzip.decompress(template)
    shape = map_of(DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz").shape
    other = map_of(DEMO_MIRROR / "emdb/structures/EMD-6149/map/emd_6149.map.gz")
    crop = np.ascontiguousarray(other[: shape[0], : shape[1], : shape[2]], dtype="<f4")
    body = raw[:1024] + crop.tobytes()
    assert len(body) == len(raw)
    return gzip.compress(body)


def test_map_of_the_wrong_content_is_refused(server: ArchiveServer, tmp_path: Path) -> None:
    """The header publishes map statistics; the served map has the right size and an intact
    gzip but another map's values: refused at once, never cached."""
    genuine = map_of(DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz")
    server.files[HEADER_8518] = with_statistics(server.files[HEADER_8518], statistics_of(genuine))
    server.files[MAP_8518] = other_map_of_the_same_size(server.files[MAP_8518])
    located = acquire(server, tmp_path / "cache")
    assert (located.status, located.reason) == ("excluded", Reason.DOWNLOAD_FAILED.value)
    assert "disagree with the header's map statistics" in located.message
    assert len(server.requests_for(MAP_8518)) == 1, "an intact file is not fetched again"
    assert not list((tmp_path / "cache/emdb").rglob("*.map.gz"))
    assert not list((tmp_path / "cache").rglob(".part-*"))


def test_map_matching_its_statistics_is_recorded_verified(
    server: ArchiveServer, tmp_path: Path
) -> None:
    genuine = map_of(DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz")
    server.files[HEADER_8518] = with_statistics(server.files[HEADER_8518], statistics_of(genuine))
    located = acquire(server, tmp_path / "cache")
    assert located.status == "ok"
    assert (located.map_verification or "").startswith(
        "verified: its values match the header's map statistics"
    )


def test_without_statistics_the_map_is_kept_and_not_verifiable_recorded(
    server: ArchiveServer, tmp_path: Path
) -> None:
    """The demo headers publish no statistics (EMDB publishes no checksum): the entry is
    acquired as before, and its record says what could not be checked."""
    located = acquire(server, tmp_path / "cache")
    assert located.status == "ok"
    assert (located.map_verification or "").startswith(f"{NOT_VERIFIABLE}: the archive publishes")
    record = json.loads(json.dumps(located.to_dict()))
    assert LocatedEntry.from_dict(record).map_verification == located.map_verification
    from_mirror = locate_entry("EMD-8518", LocalMirror.at(DEMO_MIRROR), WINDOW)
    assert from_mirror.status == "ok"
    assert from_mirror.map_verification == located.map_verification
    (model,) = from_mirror.models
    assert (model.verification or "").startswith("mirror file (gzip CRC-32 read to its end)")


def test_mirror_map_of_the_wrong_content_is_excluded(mirror_copy: Path) -> None:
    entry = mirror_copy / "emdb/structures/EMD-8518"
    header = entry / "header/emd-8518-v30.xml"
    genuine = map_of(entry / "map/emd_8518.map.gz")
    header.write_bytes(with_statistics(header.read_bytes(), statistics_of(genuine)))
    mirror = MirrorArchive(LocalMirror.at(mirror_copy))
    assert locate_entry("EMD-8518", mirror, WINDOW).status == "ok"
    path = entry / "map/emd_8518.map.gz"
    path.write_bytes(other_map_of_the_same_size(path.read_bytes()))
    located = locate_entry("EMD-8518", mirror, WINDOW)
    assert (located.status, located.reason) == ("excluded", Reason.MAP_UNREADABLE.value)
    assert "disagree with the header's map statistics" in located.message


def test_the_cli_refuses_the_downgrade_in_one_line(
    server: ArchiveServer,
    https_redirector: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`cryosse fetch` says why in one line and exits 1 (bad input), not a traceback + 3."""
    import yaml

    from cryosse.cli.main import main

    archive = {**https_config(server, https_redirector), "cache": str(tmp_path / "cache")}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"entries": ["EMD-8518"], "archive": archive}))
    code = main(["fetch", "--config", str(config), "EMD-8518"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "redirects to http://" in err and "Traceback" not in err
    assert server.requests == []
