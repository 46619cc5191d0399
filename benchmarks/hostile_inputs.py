"""Benchmark: the user-facing commands on hostile input (issue 15): memory, exit, reason, time.

One run builds every hostile input in a temporary folder, runs the real command line on each in
a fresh child process, and prints one row per case: exit status, wall time, the child's peak
RSS, the memory budget the child computed, the deadline where there is one, and a verdict.
Under each row: the command ($T is the temporary folder) and the one-line reason it printed
(for `cryosse curate`, the entry's row of curation_log.tsv).

Each child is `python -c CHILD` with PYTHONPATH=<this checkout>/src: it sets RLIMIT_AS to
--cap-gib (default 8 GiB, so that a regression cannot take the machine down), writes
`cryosse.io.density.memory_budget()` (the budget `check_map_work` and `curate_entry` use: 0.8 x
the least of MemAvailable, RLIMIT_AS, the cgroup and SLURM limits) to a file, then calls
`cryosse.cli.main` with the command's arguments, exactly as the `cryosse` console script does.
Peak RSS is the child's own ru_maxrss from os.wait4 on that child (this parent imports only the
standard library, so a forked child starts small). Wall time runs from the start of the child
to its exit, Python start-up and imports included.

Cases:
  ref-segment       `cryosse segment` on the demo EMD-8518 map with the shipped model: a
                    valid map, for the import and working-set floor (verdict "ref")
  segment on hostile maps (all with the shipped model, --device cpu, --resolution 6.1):
  bomb-2048^3.gz    a .mrc.gz of ~33 MB that expands to 32 GiB: an MRC header claiming
                    2048^3 float32 at 1 A, then zeros (concatenated gzip members, RFC 1952,
                    of 1 GiB of zeros compressed once at level 9; builds in ~5 s)
  bomb-small-hdr.gz the same 32 GiB of zeros behind a header claiming EMD-8518's 55x81x91
                    float32 (1.6 MB): only the gzip expansion itself is hostile
  claims-11GB.mrc   a header claiming 1400^3 float32 (11 GB) and 1 MiB of data
  claims-11GB.gz    the same bytes gzipped (the file size cannot be checked against the header)
  100^3-at-10A.mrc  a real 4 MB 100^3 float32 map with 10 A voxels: a 1000^3 1 A working grid
  nsymbt-2GB.mrc    a 5 KB file (10^3 float32) whose header claims a 2 GB extended header
  nsymbt-2GB.gz     the same 5 KB gzipped
  ckpt-depth40      --model: the shipped checkpoint with model_config depth 40 / base 4000
  ckpt-depth40-keys the same config with weights of 41 encoder levels (tiny tensors, the first
                    block 4000 wide) so that the weight count check passes and the shape check
                    (a network built on the meta device) is what refuses it
  ckpt-nan          the shipped checkpoint with one NaN in head.weight
  `cryosse curate EMD-8518 --mirror M --out O` on a one-entry mirror (the demo entry, its
  model, its header) whose map is a gzip bomb:
  curate-bomb       bomb-2048^3 as emd_8518.map.gz, the entry header as shipped (1622 kB)
  curate-bomb-hdr   the same, the entry header's size_kbytes made to match the MRC header
  curate-bomb-small bomb-small-hdr, consistent with the entry header (1622 kB)
  issue 26, on the same one-entry mirror (the demo map and model unless said):
  curate-far-atom   5u8s with one Ca moved +600 A in x, y and z (its box was 656x638x620:
                    5.6-7.6 GB, then internal_error): the chain must be KEPT, the box clipped
  curate-gamma60    the demo map with cell angle gamma = 60: excluded, map_not_orthogonal
  curate-origin1e30 the demo map with ORIGIN x = 1e30 ("no positive density" in segment, the
                    model "outside the map" in curation): excluded, map_unreadable
  a loopback HTTP server (a thread here, 127.0.0.1) sending one byte every 10 s:
  search-body       `cryosse search`, archive.emdb_api_url at the server: status line and
                    headers at once (Content-Length 10^6), then the body one byte per 10 s
  search-head       the same, but the status line and headers themselves one byte per 10 s
  fetch-map-body    `cryosse fetch EMD-8518`, archive.emdb_files_url at the server: the header
                    XML served at once, the map's body one byte per 10 s
  fetch-map-head    the same, the map's status line and headers one byte per 10 s

The configured defaults (download.deadline 3600 s, search.deadline 600 s; download.timeout
30 s bounds each wait for a byte, which a 10 s trickle never trips) are too long to wait for
here: the network cases set search.deadline and download.deadline to --deadline (30 s). A map
gets at least its header's size at 1 MB/s (archive.HttpArchive.map_file); the "deadline"
column shows the one that applies. A network case is killed at 3 x its deadline.

Verdict PASS: no traceback, not stopped by the memory cap (MemoryError / "out of memory"),
peak RSS below the budget, and: segment and search exit non-zero with a "cryosse ..." reason;
fetch prints the entry's exclusion reason; curate writes curation_log.tsv and manifest.tsv
with the entry excluded and a reason; a network case gives up within its deadline + 15 s,
counted from the trickled request's arrival at the server ("trickled request to exit"; the
wall time also counts Python start-up and the requests before it).

Run from the repository root (about 6 minutes; exit status 1 when a case FAILs):

    .venv/bin/python -m benchmarks.hostile_inputs [--deadline 30] [--cap-gib 8] [--json OUT]
        [--only CASE ...] [--keep DIR]

Measured
--------
On the AMD EPYC of this project's workers (lscpu: model name "AMD EPYC", 2 cores, flags avx2 and
avx512_bf16, no amx_*), 23.5 GiB shared with other work (quiet during this run); 2026-12-02, on
commit 5dd7e58, `.venv/bin/python -m benchmarks.hostile_inputs`, 5.5 minutes in all:

    cryosse hostile inputs (benchmarks/hostile_inputs.py)
    machine : AMD EPYC, nproc=2 (os.cpu_count=2); 23.5 GiB RAM (shared with other work)
    flags   : avx2 yes, avx512_bf16 yes, amx_bf16/amx_tile no
    platform: Linux-6.18.44-fc-v1098-x86_64-with-glibc2.36
    python  : 3.11.7; torch 2.13.0+cpu; children capped at RLIMIT_AS 8 GiB
    inputs  : built in 6.4 s; gzip bombs 33.4 MB, 33.4 MB -> 34.4 GB each
    network : defaults search.deadline 600 s, download.deadline 3600 s, download.timeout 30 s;
              this run sets both deadlines to 30 s; $S (127.0.0.1) sends a byte every 10 s
    $T      : the temporary folder of the inputs
    load    : 0.4 0.1 0.1 (1, 5, 15 min) before the cases

    case               exit  wall s peak MiB   budget deadline  verdict
    -------------------------------------------------------------------
    ref-segment           0     5.4      749  6.87 GB        -  ref
      $ cryosse segment $T/maps/emd_8518.map.gz --out $T/out/ref-segment --device cpu --resolution
        6.1
      -> helix: 12694 Å³ (12694 voxels), sheet: 1986 Å³ (1986 voxels)
    bomb-2048^3.gz        1     4.5      335  6.87 GB        -  PASS
      $ cryosse segment $T/maps/bomb-2048cube.mrc.gz --out $T/out/bomb-2048^3.gz --device cpu
        --resolution 6.1
      -> cryosse segment: bomb-2048cube.mrc.gz: 2048×2048×2048 voxels of 1×1×1 Å, 8,589,934,592
         voxels at 1 Å, extended header 0 bytes: needs about 197.57 GB, the budget is 6.87 GB
    bomb-small-hdr.gz     1     4.8      341  6.87 GB        -  PASS
      $ cryosse segment $T/maps/bomb-small-header.mrc.gz --out $T/out/bomb-small-hdr.gz --device cpu
        --resolution 6.1
      -> cryosse segment: bomb-small-header.mrc.gz: the gzip stream expands beyond the 2671220 bytes
         its MRC header implies
    claims-11GB.mrc       1     5.0      336  6.87 GB        -  PASS
      $ cryosse segment $T/maps/claims-11GB.mrc --out $T/out/claims-11GB.mrc --device cpu
        --resolution 6.1
      -> cryosse segment: claims-11GB.mrc: truncated: the header implies 10976001024 bytes, the file
         has 1049600
    claims-11GB.gz        1     4.9      336  6.87 GB        -  PASS
      $ cryosse segment $T/maps/claims-11GB.mrc.gz --out $T/out/claims-11GB.gz --device cpu
        --resolution 6.1
      -> cryosse segment: claims-11GB.mrc.gz: 1400×1400×1400 voxels of 1×1×1 Å, 2,744,000,000 voxels
         at 1 Å, extended header 0 bytes: needs about 63.11 GB, the budget is 6.87 GB
    100^3-at-10A.mrc      1     4.6      335  6.87 GB        -  PASS
      $ cryosse segment $T/maps/100cube-10A.mrc --out $T/out/100^3-at-10A.mrc --device cpu
        --resolution 6.1
      -> cryosse segment: 100cube-10A.mrc: 100×100×100 voxels of 10×10×10 Å, 1,000,000,000 voxels at
         1 Å, extended header 0 bytes: needs about 11.01 GB, the budget is 6.87 GB
    nsymbt-2GB.mrc        1     5.0      336  6.87 GB        -  PASS
      $ cryosse segment $T/maps/nsymbt-2GB.mrc --out $T/out/nsymbt-2GB.mrc --device cpu --resolution
        6.1
      -> cryosse segment: nsymbt-2GB.mrc: the header claims a 2000000000-byte extended header in a
         5024-byte file
    nsymbt-2GB.gz         1     9.0     2242  6.87 GB        -  PASS
      $ cryosse segment $T/maps/nsymbt-2GB.mrc.gz --out $T/out/nsymbt-2GB.gz --device cpu
        --resolution 6.1
      -> cryosse segment: nsymbt-2GB.mrc.gz: not a readable MRC map (a bytes-like object is
         required, not 'NoneType')
    ckpt-depth40          1     2.4      259  6.87 GB        -  PASS
      $ cryosse segment $T/maps/emd_8518.map.gz --out $T/out/ckpt-depth40 --device cpu --resolution
        6.1 --model $T/models/depth40.pt
      -> cryosse segment: depth40.pt: weights do not fit the network of model_config {'base': 4000,
         'dropout': 0.2, 'voxel_size': 2.0, 'architecture': 'deepssetracer', 'depth': 40}: they hold
         3 encoder levels of width 16, the config says depth 40 (= 41 levels) and base 4000
    ckpt-depth40-keys     1     2.5      263  6.87 GB        -  PASS
      $ cryosse segment $T/maps/emd_8518.map.gz --out $T/out/ckpt-depth40-keys --device cpu
        --resolution 6.1 --model $T/models/depth40-keys.pt
      -> cryosse segment: depth40-keys.pt: invalid model config (Storage size calculation overflowed
         with sizes=[524288000, 262144000, 3, 3, 3])
    ckpt-nan              1     4.2      335  6.87 GB        -  PASS
      $ cryosse segment $T/maps/emd_8518.map.gz --out $T/out/ckpt-nan --device cpu --resolution 6.1
        --model $T/models/nan-weight.pt
      -> cryosse segment: nan-weight.pt: 1 weight tensors hold NaN or Inf values (head.weight): the
         predictions would be NaN
    curate-bomb           0     0.8       81  6.87 GB        -  PASS
      $ cryosse curate EMD-8518 --mirror $T/mirrors/curate-bomb --out $T/out/curate-bomb
      -> curation_log: excluded map_size_mismatch: EMD-8518: emd_8518.map.gz: its MRC header implies
         34359739392 bytes, the entry header says 1622 kB (1 kB = 1000 bytes)
    curate-bomb-hdr       0     0.7       82  6.87 GB        -  PASS
      $ cryosse curate EMD-8518 --mirror $T/mirrors/curate-bomb-hdr --out $T/out/curate-bomb-hdr
      -> curation_log: excluded map_too_large: emd_8518.map.gz: 2048×2048×2048 voxels of 1×1×1 Å,
         extended header 0 bytes: needs about 103.08 GB, the budget is 6.87 GB
    curate-bomb-small     0     0.7       85  6.87 GB        -  PASS
      $ cryosse curate EMD-8518 --mirror $T/mirrors/curate-bomb-small --out $T/out/curate-bomb-small
      -> curation_log: excluded map_too_large: emd_8518.map.gz: the gzip stream expands beyond the
         2671220 bytes its MRC header implies
    search-body           1    30.8       77  6.87 GB     30 s  PASS
      $ cryosse search --config $T/config/search-body.yaml --entries $T/entries-body.tsv
      -> cryosse search: EMDB search failed: $S/body/emdb/api/search/current_status%3A%22REL%22%20AN
         D%20resolution%3A%5B5%20TO%2010%5D%20AND%20xref_links%3A%22pdb%22?rows=1000000&fl=emdb_id%2
         Cresolution%2Cstructure_determination_method%2Cfitted_pdbs%2Cmap_release_date%2Ccurrent_sta
         tus&wt=csv&download=false: deadline passed while receiving (gave up after 0 retries)
         requests to $S: 1; trickled request to exit: 30.2 s
    search-head        kill    90.1       76  6.87 GB     30 s  FAIL
      $ cryosse search --config $T/config/search-head.yaml --entries $T/entries-head.tsv
      -> (nothing printed)
         requests to $S: 1; trickled request to killed: 89.4 s
      !! still running at 90 s: killed; no reason printed; waited 89 s for a 30 s deadline
    fetch-map-body        0    31.1       81  6.87 GB     30 s  PASS
      $ cryosse fetch --config $T/config/fetch-map-body.yaml EMD-8518
      -> EMD-8518: download_failed: transient failure:
         $S/body/emdb/structures/EMD-8518/map/emd_8518.map.gz: deadline passed while receiving (gave
         up after 0 retries)
         requests to $S: 2; trickled request to exit: 29.8 s
    fetch-map-head     kill    90.1       80  6.87 GB     30 s  FAIL
      $ cryosse fetch --config $T/config/fetch-map-head.yaml EMD-8518
      -> (nothing printed)
         requests to $S: 2; trickled request to killed: 88.9 s
      !! still running at 90 s: killed; no exclusion reason printed; waited 89 s for a 30 s deadline

    load    : 0.0 0.1 0.1 (1, 5, 15 min) after the cases
    16 of 18 cases PASS/ref; FAIL: search-head, fetch-map-head

Findings:
- FAIL search-head, fetch-map-head: the deadline does not bound the wait for the status line
  and headers. Downloader._download (cryosse/acquire/download.py) calls self._session.get(url,
  stream=True, timeout=(self.timeout, read_timeout)): the read timeout bounds each recv, and
  the deadline's watchdog (a threading.Timer calling response.raw.shutdown()) is started only
  in _stream_body, after get() has returned the headers. A server sending a byte more often
  than download.timeout before its headers end holds every Downloader.fetch (search, count,
  header, map, model, obsolete list) for ever (http.client's 65,536-byte line limit at one
  byte per 10 s is 7.6 days). tests/support/archive_server.py's "trickle" fault trickles only
  bodies.
- nsymbt-2GB.gz passes the criterion but costs 2.2 GB of RSS for a 5 KB file: check_map_work
  accepts it (2.0 GB needed, within the budget; plan_map cannot compare a gzip's size with
  its header), _gunzip_limited returns the 5,024 bytes there are, and mrcfile 1.5.4
  (MrcInterpreter._read_bytearray_from_stream: bytearray(nsymbt), zero-filled, so resident)
  allocates the claimed 2 GB before it finds the stream short; the reason printed is a leaked
  TypeError. density._open_mrc could refuse a decompressed stream shorter than
  plan.file_bytes as truncated, as plan_map does for plain files.
- `cryosse fetch` exits 0 when an entry's download failed transiently (cli._fetch always
  returns 0); the reason is printed. The gzip limit's message ("expands beyond the 2671220
  bytes its MRC header implies") counts the 1 MiB of trailing slack in the header's size.

After the fixes (commits "download: the deadline covers the wait for the status line and
headers too", "density: a gzip stream shorter than its MRC header implies is refused", "fetch
exits 1 when an entry could not be downloaded"), same machine, load average 0.5 at the start
(a fresh-clone CI run beside it), `--only` the six cases concerned:

    nsymbt-2GB.gz         1     4.8      335  6.87 GB        -  PASS  (was 2242 MiB)
      -> truncated: the header implies 2000005024 bytes, the gzip stream holds 5024
    curate-bomb           0     0.7       81  6.87 GB        -  PASS
    search-body           1    30.7       77  6.87 GB     30 s  PASS
    search-head           1    30.8       77  6.87 GB     30 s  PASS  (was killed at 90 s)
      -> deadline passed while waiting for the headers; trickled request to exit: 30.2 s
    fetch-map-body        1    30.7       82  6.87 GB     30 s  PASS  (exit 1, was 0)
    fetch-map-head        1    30.8       82  6.87 GB     30 s  PASS  (was killed at 90 s)
    6 of 6 cases PASS/ref; FAIL: none
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zlib
from array import array
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.machine import host_facts

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
DEMO = REPO / "demo" / "mirror"
DEMO_ID = "EMD-8518"
DEMO_ENTRY = DEMO / "emdb" / "structures" / DEMO_ID
DEMO_MAP = DEMO_ENTRY / "map" / "emd_8518.map.gz"
DEMO_HEADER = DEMO_ENTRY / "header" / "emd-8518-v30.xml"
DEMO_MODEL = DEMO / "pdb" / "5u8s.pdb.gz"
DEMO_DIMS = (55, 81, 91)  # EMD-8518's component map, float32 at 1 A
DEMO_SIZE_KB = 1622
GIB = 2**30
MRC_HEADER = 1024
TRICKLE_S = 10.0
DEADLINE_SLACK_S = 15.0
WIDTH = 96  # printed lines stay within the docstring's line length

# The child: cap the address space, record the budget, then the console script's own call.
CHILD = """\
import resource, sys
cap = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from cryosse.io.density import memory_budget
with open(sys.argv[1], "w") as handle:
    handle.write(str(memory_budget()))
from cryosse.cli import main
sys.exit(main(sys.argv[3:]))
"""

# Builds the hostile checkpoints from the shipped one (torch.save: save_checkpoint refuses to
# write them) and reports the map deadline HttpArchive.map_file applies to the demo entry.
BUILD = """\
import json, math, sys
from pathlib import Path
import torch
from cryosse.acquire.archive_settings import DownloadLimits
from cryosse.acquire.http_archive import SLOWEST_RATE
from cryosse.acquire.map_size import map_download_caps
from cryosse.learn.checkpoint import default_model_path
out, size_kb, deadline = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
shipped = torch.load(default_model_path(), map_location="cpu", weights_only=True)
deep = {**shipped["model_config"], "depth": 40, "base": 4000}
torch.save({**shipped, "model_config": deep}, out / "depth40.pt")
levels = {f"encoders.{k}.0.weight": torch.zeros(1) for k in range(41)}
levels["encoders.0.3.weight"] = torch.zeros(4000, 1, 1, 1, 1)
torch.save({**shipped, "model_config": deep, "model": levels}, out / "depth40-keys.pt")
weights = {k: v.clone() for k, v in shipped["model"].items()}
weights["head.weight"].view(-1)[0] = math.nan
torch.save({**shipped, "model": weights}, out / "nan-weight.pt")
max_bytes = map_download_caps(size_kb, DownloadLimits())[0]
print(json.dumps({"map_deadline": max(deadline, max_bytes / SLOWEST_RATE),
                  "torch": torch.__version__}))
"""


# ------------------------------------------------------------------------ hostile files --


def mrc_header(
    shape_xyz: tuple[int, int, int], voxel: float, mode: int = 2, nsymbt: int = 0
) -> bytes:
    """A valid 1024-byte MRC2014 header (little-endian, axes x y z, origin 0)."""
    nx, ny, nz = shape_xyz
    head = bytearray(MRC_HEADER)
    struct.pack_into("<10i", head, 0, nx, ny, nz, mode, 0, 0, 0, nx, ny, nz)
    struct.pack_into("<6f", head, 40, nx * voxel, ny * voxel, nz * voxel, 90.0, 90.0, 90.0)
    struct.pack_into("<3i3f2i", head, 64, 1, 2, 3, 0.0, 1.0, 0.5, 1, nsymbt)
    head[104:108] = b"MRCO"
    struct.pack_into("<i", head, 108, 20140)
    head[208:214] = b"MAP DD"
    struct.pack_into("<fi", head, 216, 0.1, 1)
    label = b"cryosse benchmarks/hostile_inputs.py"
    head[224 : 224 + len(label)] = label
    return bytes(head)


def float_data(n: int) -> bytes:
    """n float32 values, a non-constant ramp (little-endian)."""
    values = array("f", (float(i % 97) for i in range(n)))
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


@functools.cache
def zeros_member(nbytes: int) -> bytes:
    """One gzip member (level 9) of `nbytes` zero bytes (1 GiB -> ~1.04 MB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block, parts, left = bytes(1 << 20), [], nbytes
    while left:
        parts.append(compressor.compress(block[: min(left, len(block))]))
        left -= min(left, len(block))
    parts.append(compressor.flush())
    return b"".join(parts)


def write_gzip_bomb(path: Path, header: bytes, zeros: int) -> None:
    """`header` then `zeros` zero bytes, as concatenated gzip members (gzip and Python's gzip
    read them as one stream): the 1 GiB member is compressed once and written again."""
    with path.open("wb") as out:
        out.write(gzip.compress(header, 9, mtime=0))
        while zeros:
            out.write(zeros_member(min(zeros, GIB)))
            zeros -= min(zeros, GIB)


def build_maps(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    maps = {"demo": folder / "emd_8518.map.gz"}
    shutil.copyfile(DEMO_MAP, maps["demo"])
    maps["bomb"] = folder / "bomb-2048cube.mrc.gz"
    write_gzip_bomb(maps["bomb"], mrc_header((2048, 2048, 2048), 1.0), 2048**3 * 4)
    maps["bomb_small"] = folder / "bomb-small-header.mrc.gz"
    write_gzip_bomb(maps["bomb_small"], mrc_header(DEMO_DIMS, 1.0), 2048**3 * 4)
    claims = mrc_header((1400, 1400, 1400), 1.0) + float_data(1 << 18)  # 1 MiB of data
    maps["claims"] = folder / "claims-11GB.mrc"
    maps["claims"].write_bytes(claims)
    maps["claims_gz"] = folder / "claims-11GB.mrc.gz"
    maps["claims_gz"].write_bytes(gzip.compress(claims, 6, mtime=0))
    maps["coarse"] = folder / "100cube-10A.mrc"
    maps["coarse"].write_bytes(mrc_header((100, 100, 100), 10.0) + float_data(100**3))
    nsymbt = mrc_header((10, 10, 10), 1.0, nsymbt=2_000_000_000) + float_data(1000)
    maps["nsymbt"] = folder / "nsymbt-2GB.mrc"
    maps["nsymbt"].write_bytes(nsymbt)
    maps["nsymbt_gz"] = folder / "nsymbt-2GB.mrc.gz"
    maps["nsymbt_gz"].write_bytes(gzip.compress(nsymbt, 6, mtime=0))
    return maps


def build_mirror(
    root: Path, bomb: Path, size_kbytes: int | None, model: bytes | None = None
) -> Path:
    """A one-entry mirror: the demo EMD-8518 entry and its model (or the PDB text `model`), the
    map replaced by `bomb` (hard-linked), the header's size_kbytes set to `size_kbytes` (None: as
    shipped)."""
    entry = root / "emdb" / "structures" / DEMO_ID
    (entry / "header").mkdir(parents=True)
    (entry / "map").mkdir()
    (root / "pdb").mkdir()
    if model is None:
        shutil.copyfile(DEMO_MODEL, root / "pdb" / DEMO_MODEL.name)
    else:
        (root / "pdb" / DEMO_MODEL.name).write_bytes(gzip.compress(model, 6, mtime=0))
    text = DEMO_HEADER.read_text(encoding="utf-8")
    if size_kbytes is not None:
        text = text.replace(f'size_kbytes="{DEMO_SIZE_KB}"', f'size_kbytes="{size_kbytes}"')
    (entry / "header" / DEMO_HEADER.name).write_text(text, encoding="utf-8")
    os.link(bomb, entry / "map" / DEMO_MAP.name)
    return root


def far_atom_model(shift: float) -> bytes:
    """5u8s as PDB text with its 41st Ca moved `shift` A in x, y and z (columns 31-54)."""
    lines = gzip.decompress(DEMO_MODEL.read_bytes()).decode().splitlines(keepends=True)
    cas = [i for i, line in enumerate(lines) if line.startswith("ATOM") and line[12:16] == " CA "]
    i = cas[40]
    xyz = [float(lines[i][30 + 8 * k : 38 + 8 * k]) + shift for k in range(3)]
    lines[i] = lines[i][:30] + "".join(f"{v:8.3f}" for v in xyz) + lines[i][54:]
    return "".join(lines).encode()


def patched_demo_map(path: Path, offset: int, fmt: str, *values: float) -> Path:
    """The demo map with header bytes at `offset` set to `values` (struct `fmt`, <)."""
    raw = bytearray(gzip.decompress(DEMO_MAP.read_bytes()))
    raw[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, *values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(bytes(raw), 6, mtime=0))
    return path


def build_checkpoints(folder: Path, cap: int, deadline: float) -> dict[str, Any]:
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    setup = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))\n"
    done = subprocess.run(
        [sys.executable, "-c", setup + BUILD, str(folder), str(DEMO_SIZE_KB), str(deadline)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the trickling server --


class _TrickleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TrickleHandler)
        self.stop = threading.Event()
        self.requests: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(path.startswith(prefix) for _, path in self.requests)


class _TrickleHandler(BaseHTTPRequestHandler):
    """/<mode>/emdb/structures/<id>/header/*.xml: the demo header at once (any mode);
    /body/...: headers at once, then the body a byte per TRICKLE_S; /head/...: the status line
    and an endless header line a byte per TRICKLE_S; anything else 404."""

    protocol_version = "HTTP/1.1"
    server: _TrickleServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with self.server._lock:
            self.server.requests.append((time.monotonic(), self.path))
        mode = self.path.split("/")[1]
        if "/header/" in self.path and self.path.endswith(".xml"):
            body = DEMO_HEADER.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif mode == "body":
            length = DEMO_MAP.stat().st_size if "/map/" in self.path else 10**6
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self._trickle(b"\x1f" + b"\x00" * (length - 1))
        elif mode == "head":
            self.close_connection = True
            self._trickle(b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"a" * 100_000)
        else:
            self.send_error(404)

    def _trickle(self, data: bytes) -> None:
        self.wfile.flush()
        for i in range(len(data)):
            try:
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
            except OSError:  # the client gave up
                return
            if self.server.stop.wait(TRICKLE_S):
                return


# ------------------------------------------------------------------------- the cases --


@dataclass
class Case:
    name: str
    kind: str  # ref, segment, curate (excluded), curate-kept, search, fetch
    argv: list[str]
    out: Path | None = None  # curate --out
    deadline: float | None = None  # the deadline that applies (s)
    limit_s: float = 300.0  # killed after this


@dataclass
class Outcome:
    name: str
    command: str
    exit: int | None
    wall_s: float
    peak_mib: float
    budget_bytes: int | None
    deadline_s: float | None
    reason: str
    verdict: str
    problems: list[str] = field(default_factory=list)
    requests: int | None = None
    gave_up_s: float | None = None  # from the trickled request's arrival to the exit


def segment_case(name: str, kind: str, map_path: Path, work: Path, *extra: str) -> Case:
    argv = ["segment", str(map_path), "--out", str(work / "out" / name), "--device", "cpu"]
    return Case(name, kind, [*argv, "--resolution", "6.1", *extra])


def net_config(work: Path, name: str, server: _TrickleServer, mode: str, deadline: float) -> Path:
    """A workflow config (JSON is YAML) with every archive URL at the server."""
    base = server.url
    config = {
        "archive": {
            "cache": str(work / "cache" / name),
            "emdb_files_url": f"{base}/{mode}/emdb",
            "emdb_api_url": f"{base}/{mode}/emdb/api",
            "model_urls": [f"{base}/none/pdb/{{ID}}.cif.gz"],
            "obsolete_list_url": f"{base}/none/obsolete.dat",
        },
        "download": {"deadline": deadline, "timeout": 30, "retries": 5},
        "search": {"deadline": deadline},
    }
    path = work / "config" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    return path


def build_cases(
    work: Path, cap: int, deadline: float, server: _TrickleServer
) -> tuple[list[Case], dict[str, Any]]:
    maps = build_maps(work / "maps")
    facts = build_checkpoints(work / "models", cap, deadline)
    models = work / "models"
    cases = [
        segment_case("ref-segment", "ref", maps["demo"], work),
        segment_case("bomb-2048^3.gz", "segment", maps["bomb"], work),
        segment_case("bomb-small-hdr.gz", "segment", maps["bomb_small"], work),
        segment_case("claims-11GB.mrc", "segment", maps["claims"], work),
        segment_case("claims-11GB.gz", "segment", maps["claims_gz"], work),
        segment_case("100^3-at-10A.mrc", "segment", maps["coarse"], work),
        segment_case("nsymbt-2GB.mrc", "segment", maps["nsymbt"], work),
        segment_case("nsymbt-2GB.gz", "segment", maps["nsymbt_gz"], work),
    ]
    for name, file in (
        ("ckpt-depth40", "depth40.pt"),
        ("ckpt-depth40-keys", "depth40-keys.pt"),
        ("ckpt-nan", "nan-weight.pt"),
    ):
        cases.append(
            segment_case(name, "segment", maps["demo"], work, "--model", str(models / file))
        )
    bomb_kb = (MRC_HEADER + 2048**3 * 4) // 1000
    for name, bomb, size_kb in (
        ("curate-bomb", maps["bomb"], None),
        ("curate-bomb-hdr", maps["bomb"], bomb_kb),
        ("curate-bomb-small", maps["bomb_small"], None),
    ):
        mirror = build_mirror(work / "mirrors" / name, bomb, size_kb)
        out = work / "out" / name
        argv = ["curate", DEMO_ID, "--mirror", str(mirror), "--out", str(out)]
        cases.append(Case(name, "curate", argv, out=out))
    for name, kind, map_path, model in (
        ("curate-far-atom", "curate-kept", maps["demo"], far_atom_model(600.0)),
        (
            "curate-gamma60",
            "curate",
            patched_demo_map(work / "maps" / "gamma60.map.gz", 52, "<3f", 90.0, 90.0, 60.0),
            None,
        ),
        (
            "curate-origin1e30",
            "curate",
            patched_demo_map(work / "maps" / "origin1e30.map.gz", 196, "<3f", 1e30, 0.0, 0.0),
            None,
        ),
    ):
        mirror = build_mirror(work / "mirrors" / name, map_path, None, model)
        out = work / "out" / name
        argv = ["curate", DEMO_ID, "--mirror", str(mirror), "--out", str(out)]
        cases.append(Case(name, kind, argv, out=out))
    limit = 3 * deadline
    for mode in ("body", "head"):
        config = net_config(work, f"search-{mode}", server, mode, deadline)
        argv = ["search", "--config", str(config), "--entries", str(work / f"entries-{mode}.tsv")]
        cases.append(Case(f"search-{mode}", "search", argv, deadline=deadline, limit_s=limit))
    map_deadline = float(facts["map_deadline"])
    for mode in ("body", "head"):
        config = net_config(work, f"fetch-map-{mode}", server, mode, deadline)
        argv = ["fetch", "--config", str(config), DEMO_ID]
        cases.append(
            Case(
                f"fetch-map-{mode}", "fetch", argv, deadline=map_deadline, limit_s=3 * map_deadline
            )
        )
    return cases, facts


# ------------------------------------------------------------------------- measuring --


def run_child(case: Case, work: Path, cap: int) -> dict[str, Any]:
    """Run the case's command in a fresh child; its exit, wall time, ru_maxrss, output."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    budget_file = logs / f"{case.name}.budget"
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    with (logs / f"{case.name}.out").open("w") as out, (logs / f"{case.name}.err").open("w") as err:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(budget_file), str(cap), *case.argv],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=work,
            start_new_session=True,
        )
        killed = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.monotonic() - started > case.limit_s:
                os.killpg(child.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.05)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    budget = budget_file.read_text().strip() if budget_file.is_file() else ""
    return {
        "exit": None if killed else child.returncode,
        "killed": killed,
        "wall_s": wall,
        "ended": started + wall,
        "peak_mib": usage.ru_maxrss / 1024,
        "budget": int(budget) if budget.isdigit() else None,
        "stdout": (logs / f"{case.name}.out").read_text(errors="replace"),
        "stderr": (logs / f"{case.name}.err").read_text(errors="replace"),
    }


def printed_reason(case: Case, run: dict[str, Any]) -> str:
    lines = [line.strip() for line in run["stderr"].splitlines() if line.strip()]
    if "Traceback" in run["stderr"]:
        return "traceback: " + (lines[-1] if lines else "?")
    if case.kind == "fetch":
        mine = [line for line in lines if line.startswith(DEMO_ID)]
        return mine[-1] if mine else (run["stdout"].strip().splitlines() or [""])[0]
    mine = [line for line in lines if line.startswith("cryosse ") and "warning:" not in line]
    if mine:
        return mine[-1]
    if case.kind == "ref":
        return (run["stdout"].strip().splitlines() or [""])[0]
    return lines[-1] if lines else ""


def curation_reason(out: Path, expected: str = "excluded") -> tuple[str, list[str]]:
    """The entry's row of the curation log, and what is missing of the log and manifest."""
    import csv

    problems = [
        f"no {name}" for name in ("curation_log.tsv", "manifest.tsv") if not (out / name).is_file()
    ]
    if problems:
        return "", problems
    with (out / "curation_log.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t") if row["level"] == "entry"]
    if not rows:
        return "", ["no entry row in curation_log.tsv"]
    row = rows[0]
    reason = f"curation_log: {row['status']} {row['reason']}: {row['message']}"
    if row["status"] != expected or not row["reason"] or not row["message"]:
        problems.append(f"entry not {expected} with a reason")
    return reason, problems


def judge(case: Case, run: dict[str, Any], reason: str, problems: list[str]) -> str:
    stderr, budget = run["stderr"], run["budget"]
    if run["killed"]:
        problems.append(f"still running at {case.limit_s:.0f} s: killed")
    if "Traceback" in stderr:
        problems.append("traceback")
    if "MemoryError" in stderr or "out of memory" in reason:
        problems.append("stopped by the memory cap, not by a check")
    if budget is None:
        problems.append("no budget recorded")
    elif run["peak_mib"] * 2**20 >= budget:
        problems.append("peak RSS above the budget")
    if case.kind == "ref":
        if run["exit"] != 0:
            problems.append(f"valid map: exit {run['exit']}")
    elif case.kind in ("segment", "search"):
        if run["exit"] == 0:
            problems.append("exit 0" + ("" if reason.startswith("cryosse ") else " with no reason"))
        elif not reason.startswith("cryosse "):
            problems.append("no reason printed")
    elif case.kind == "fetch" and not reason.startswith(DEMO_ID):
        problems.append("no exclusion reason printed")
    waited = run.get("gave_up_s")
    if case.deadline is not None and (waited is None or waited > case.deadline + DEADLINE_SLACK_S):
        problems.append(
            f"{'no trickled request' if waited is None else f'waited {waited:.0f} s'} "
            f"for a {case.deadline:g} s deadline"
        )
    if problems:
        return "FAIL"
    return "ref" if case.kind == "ref" else "PASS"


def measure(case: Case, work: Path, cap: int, server: _TrickleServer) -> Outcome:
    before = len(server.requests)
    run = run_child(case, work, cap)
    trickled = [
        arrived
        for arrived, path in server.requests[before:]
        if path.split("/")[1] in ("body", "head") and "/header/" not in path
    ]
    run["gave_up_s"] = run["ended"] - trickled[0] if trickled else None
    problems: list[str] = []
    if case.kind in ("curate", "curate-kept"):
        expected = "kept" if case.kind == "curate-kept" else "excluded"
        reason, problems = curation_reason(case.out or work, expected)
        if "Traceback" in run["stderr"]:
            reason = printed_reason(case, run)
    else:
        reason = printed_reason(case, run)
    verdict = judge(case, run, reason, problems)
    command = " ".join(["cryosse", *case.argv]).replace(str(work), "$T")
    return Outcome(
        case.name,
        command,
        run["exit"],
        run["wall_s"],
        run["peak_mib"],
        run["budget"],
        case.deadline,
        reason.replace(str(work), "$T").replace(server.url, "$S"),
        verdict,
        problems,
        requests=len(server.requests) - before if case.kind in ("search", "fetch") else None,
        gave_up_s=run["gave_up_s"],
    )


# --------------------------------------------------------------------------- the report --


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def say(text: str = "") -> None:
    print(text, flush=True)


def wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=f"  {label} ",
        subsequent_indent=" " * (len(label) + 3),
        break_on_hyphens=False,
    )


HEAD = (
    f"{'case':<18} {'exit':>4} {'wall s':>7} {'peak MiB':>8} {'budget':>8} {'deadline':>8}  verdict"
)


def row_lines(o: Outcome) -> list[str]:
    exit_code = "kill" if o.exit is None else str(o.exit)
    budget = "?" if o.budget_bytes is None else f"{o.budget_bytes / 1e9:.2f} GB"
    deadline = "-" if o.deadline_s is None else f"{o.deadline_s:g} s"
    lines = [
        f"{o.name:<18} {exit_code:>4} {o.wall_s:>7.1f} {o.peak_mib:>8.0f} {budget:>8} "
        f"{deadline:>8}  {o.verdict}"
    ]
    lines += wrapped("$", o.command)
    lines += wrapped("->", o.reason or "(nothing printed)")
    if o.requests is not None:
        waited = "-" if o.gave_up_s is None else f"{o.gave_up_s:.1f} s"
        end = "killed" if o.exit is None else "exit"
        lines.append(f"     requests to $S: {o.requests}; trickled request to {end}: {waited}")
    if o.problems:
        lines += wrapped("!!", "; ".join(o.problems))
    return lines


def flag(flags: set[str], *names: str) -> str:
    return "/".join(names) + " " + ("yes" if any(n in flags for n in names) else "no")


def machine_lines(facts: dict[str, Any], cap: int, built: dict[str, Any]) -> list[str]:
    flags = set(facts["cpu_flags"])
    mem = "?"
    with contextlib.suppress(OSError, StopIteration, ValueError, IndexError):
        line = next(
            line
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return [
        f"machine : {facts['cpu_model']}, nproc={facts['nproc']} (os.cpu_count="
        f"{facts['cpu_count']}); {mem} RAM (shared with other work)",
        f"flags   : {flag(flags, 'avx2')}, {flag(flags, 'avx512_bf16')}, "
        f"{flag(flags, 'amx_bf16', 'amx_tile')}",
        f"platform: {facts['platform']}",
        f"python  : {facts['python']}; torch {built.get('torch', '?')}; "
        f"children capped at RLIMIT_AS {cap / GIB:g} GiB",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--deadline",
        type=float,
        default=30.0,
        help="search.deadline and download.deadline of the network cases (s)",
    )
    parser.add_argument("--cap-gib", type=float, default=8.0, help="RLIMIT_AS of each child")
    parser.add_argument("--only", nargs="+", help="only these cases (names as printed)")
    parser.add_argument("--json", help="write the outcomes here")
    parser.add_argument("--keep", help="build in this (new) folder and keep it")
    args = parser.parse_args()
    cap = int(args.cap_gib * GIB)
    schema = json.loads((REPO / "config" / "schema.json").read_text())["properties"]
    defaults = (
        schema["search"]["properties"]["deadline"]["default"],
        schema["download"]["properties"]["deadline"]["default"],
        schema["download"]["properties"]["timeout"]["default"],
    )

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cryosse-hostile-"))
    server = _TrickleServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    outcomes: list[Outcome] = []
    try:
        say("cryosse hostile inputs (benchmarks/hostile_inputs.py)")
        tick = time.monotonic()
        cases, built = build_cases(work, cap, args.deadline, server)
        for line in machine_lines(host_facts(), cap, built):
            say(line)
        bombs = sorted((work / "maps").glob("bomb-*"))
        say(
            f"inputs  : built in {time.monotonic() - tick:.1f} s; gzip bombs "
            + ", ".join(f"{p.stat().st_size / 1e6:.1f} MB" for p in bombs)
            + f" -> {(MRC_HEADER + 2048**3 * 4) / 1e9:.1f} GB each"
        )
        say(
            f"network : defaults search.deadline {defaults[0]:g} s, download.deadline "
            f"{defaults[1]:g} s, download.timeout {defaults[2]:g} s;"
        )
        say(
            f"          this run sets both deadlines to {args.deadline:g} s; $S (127.0.0.1) "
            f"sends a byte every {TRICKLE_S:g} s"
        )
        say("$T      : the temporary folder of the inputs")
        say(f"load    : {load()} (1, 5, 15 min) before the cases")
        say()
        say(HEAD)
        say("-" * len(HEAD))
        for case in cases:
            if args.only and case.name not in args.only:
                continue
            outcome = measure(case, work, cap, server)
            outcomes.append(outcome)
            for line in row_lines(outcome):
                say(line)
        failed = [o.name for o in outcomes if o.verdict == "FAIL"]
        say()
        say(f"load    : {load()} (1, 5, 15 min) after the cases")
        say(
            f"{len(outcomes) - len(failed)} of {len(outcomes)} cases PASS/ref; FAIL: "
            + (", ".join(failed) or "none")
        )
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
