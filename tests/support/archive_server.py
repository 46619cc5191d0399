"""A real HTTP server on 127.0.0.1 that plays the EMDB and PDB archives, with injectable faults.

It serves a mirror folder in the archives' URL layout:

    /emdb/structures/EMD-XXXX/header/emd-XXXX-v30.xml    mirror/emdb/structures/...
    /emdb/structures/EMD-XXXX/map/emd_XXXX.map.gz
    /rcsb/download/{ID}.pdb.gz | {ID}.cif.gz             mirror/pdb/{id}.pdb.gz | .cif.gz
    /pdbe/download/{id}.cif                              registered by a test
    /emdb/api/search/{query}                             registered by a test (CSV)
    /emdb/api/facet/{query}?field=current_status         registered by a test (JSON count)
    /wwpdb/obsolete.dat                                  registered by a test

Search requests are checked the way EMDB's Solr does: a query field that is not searchable
(e.g. `map_release_date`, an output field only) or an unknown output field in `fl` is answered
HTTP 400, and so are parameters that differ from `search_params` when a test sets them; every
refusal is kept in `refused` for the test to assert on.

With `chunked` set, every full answer is sent with Transfer-Encoding: chunked and no
Content-Length (as many servers send generated or compressed-on-the-fly bodies).

Plain GETs and single "bytes=N-" ranges are answered like a static file server (with ETag).
A fault queued for a path is used by the next request to it, in order:

    status       answer `status` (with Retry-After if given) and no body
    drop         send the headers of the full answer, `keep` bytes of body, then close
    short_length announce `keep` bytes as Content-Length (fewer than the file) and send them
    corrupt      the full length, with bytes in the middle flipped
    no_length    no Content-Length: the body ends when the connection closes
    slow         wait `seconds` before answering (then answer normally)
    trickle      send the headers, then one byte of body every `seconds` (a stalled server
                 that never trips a per-read timeout)
    trickle_head send the status line and an endless header line, one byte every `seconds`
                 (the headers themselves never end)

A fault in `standing` (path prefix -> fault) is used by every request under that prefix that
has no queued fault, and is never used up.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Fault:
    kind: str
    status: int = 500
    retry_after: str | None = None
    keep: int = 0
    seconds: float = 0.0


# Searchable Solr fields and output (fl) fields of the EMDB search API, as used by public
# clients (emdb-api-wrapper, CryoDataBot, Jmol); map_release_date is an output field only.
SOLR_QUERY_FIELDS = frozenset(
    {
        "emdb_id",
        "current_status",
        "resolution",
        "xref_links",
        "structure_determination_method",
        "release_date",
        "fitted_pdbs",
        "database",
    }
)
SOLR_OUTPUT_FIELDS = SOLR_QUERY_FIELDS | {
    "map_release_date",
    "resolution_method",
    "map_contour_level_value",
    "xref_UNIPROTKB",
    "title",
}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    query: dict[str, list[str]] = field(default_factory=dict)
    time: float = 0.0  # time.monotonic() at arrival


@dataclass
class ArchiveServer:
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Request] = field(default_factory=list)
    # expected query parameters of search requests (name -> value); None: any
    search_params: dict[str, str] | None = None
    # why search requests were answered 400
    refused: list[str] = field(default_factory=list)
    chunked: bool = False
    standing: dict[str, Fault] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve_mirror(self, mirror: Path) -> None:
        for path in (mirror / "emdb" / "structures").rglob("*"):
            if path.is_file():
                self.files["/emdb/" + str(path.relative_to(mirror / "emdb"))] = path.read_bytes()
        for path in (mirror / "pdb").glob("*.*"):
            pdb_id, suffix = path.name.split(".", 1)
            self.files[f"/rcsb/download/{pdb_id.upper()}.{suffix}"] = path.read_bytes()

    def publish_search(self, query: str, csv_text: str, count: int | None = None) -> None:
        """Answer the Solr `query` with `csv_text`, and its facet count with `count` (default:
        the CSV's data rows, as the real archive would)."""
        if count is None:
            count = len(list(csv.reader(io.StringIO(csv_text)))) - 1
        self.files["/emdb/api/search/" + query] = csv_text.encode()
        facet = json.dumps({"current_status": {"REL": count}})
        self.files["/emdb/api/facet/" + query] = facet.encode()

    def add_fault(self, path: str, *faults: Fault) -> None:
        with self.lock:
            self.faults[path].extend(faults)

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def config(self) -> dict[str, object]:
        """The `archive` config section pointing at this server."""
        return {
            "mirror": None,
            "emdb_files_url": f"{self.url}/emdb",
            "emdb_api_url": f"{self.url}/emdb/api",
            "model_urls": [
                f"{self.url}/rcsb/download/{{ID}}.cif.gz",
                f"{self.url}/pdbe/download/{{id}}.cif",
                f"{self.url}/rcsb/download/{{ID}}.pdb.gz",
            ],
            "obsolete_list_url": f"{self.url}/wwpdb/obsolete.dat",
        }


def search_problems(server: ArchiveServer, path: str, query: dict[str, list[str]]) -> list[str]:
    """Why EMDB's search API would refuse this request (empty: it would answer)."""
    solr = urllib.parse.unquote(path.split("/emdb/api/search/", 1)[-1])
    problems = [
        f"unknown query field {name!r}"
        for name in re.findall(r"([A-Za-z_]+):", solr)
        if name not in SOLR_QUERY_FIELDS
    ]
    for name in ",".join(query.get("fl", [])).split(","):
        if name and name not in SOLR_OUTPUT_FIELDS:
            problems.append(f"unknown output field {name!r}")
    if server.search_params is not None:
        got = {k: v[-1] for k, v in query.items()}
        if got != server.search_params:
            problems.append(f"parameters {got!r}, expected {server.search_params!r}")
    return problems


def _handler(server: ArchiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            path = split.path
            query = urllib.parse.parse_qs(split.query)
            with server.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Request(path, headers, query, time.monotonic()))
                fault = server.faults[path].popleft() if server.faults[path] else None
                if fault is None:
                    fault = next(
                        (f for p, f in server.standing.items() if path.startswith(p)), None
                    )
            if fault is not None and fault.kind == "trickle_head":
                self.close_connection = True
                self._trickle(b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"a" * 100_000, fault.seconds)
                return
            if path.startswith("/emdb/api/search/"):
                problems = search_problems(server, path, query)
                if problems:
                    with server.lock:
                        server.refused.extend(problems)
                    body = ("; ".join(problems) + "\n").encode()
                    self.send_response(400)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
            if fault is not None and fault.kind == "slow":
                server.stop.wait(fault.seconds)
                fault = None
            if fault is not None and fault.kind == "status":
                self.send_response(fault.status)
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = server.files.get(urllib.parse.unquote(path))
            if body is None:
                body = server.files.get(path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            start = 0
            range_header = self.headers.get("Range")
            if range_header and range_header.startswith("bytes=") and range_header.endswith("-"):
                start = int(range_header[6:-1])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            if fault is not None and fault.kind == "corrupt":
                middle = len(payload) // 2
                flipped = bytes(b ^ 0xFF for b in payload[middle : middle + 64])
                payload = payload[:middle] + flipped + payload[middle + 64 :]
            length = len(payload)
            if fault is not None and fault.kind == "short_length":
                payload, length = payload[: fault.keep], fault.keep
            chunked = server.chunked and fault is None and start == 0
            if fault is not None and fault.kind in ("no_length", "trickle"):
                # HTTP/1.1 without a length: the body ends when the connection closes
                self.send_header("Connection", "close")
                self.close_connection = True
            elif chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(length))
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if fault is not None and fault.kind == "trickle":
                self._trickle(payload, fault.seconds)
                return
            if chunked:
                step = 64 * 1024
                for i in range(0, len(payload), step):
                    piece = payload[i : i + step]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            if fault is not None and fault.kind == "drop":
                self.wfile.write(payload[: fault.keep])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        def _trickle(self, data: bytes, seconds: float) -> None:
            self.wfile.flush()
            for byte in data:
                if server.stop.wait(seconds):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up (its deadline): the point
                    return

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def start_server() -> tuple[ArchiveServer, _Server]:
    state = ArchiveServer()
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return state, httpd


def stop_server(state: ArchiveServer, httpd: _Server) -> None:
    state.stop.set()
    httpd.shutdown()
    httpd.server_close()
    time.sleep(0)
