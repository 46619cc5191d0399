"""The user-facing commands on hostile input (issue 15, issue 26): each case runs the real
command line in a fresh child process and must end with a reason, within its memory budget and
its deadline, never a traceback.

Each child is `python -c CHILD` with PYTHONPATH=<this checkout>/src: it sets RLIMIT_AS to
CAP_GIB (so that a regression cannot take the machine down), records
`cryosse.io.density.memory_budget()` (the budget `check_map_work` and `curate_entry` use: 0.8 ×
the least of MemAvailable, RLIMIT_AS, the cgroup and SLURM limits), then calls
`cryosse.cli.main` with the command's arguments, as the `cryosse` console script does. Peak RSS
is the child's own ru_maxrss from os.wait4.

Cases (the names are the test ids):
  ref-segment       `cryosse segment` on the demo EMD-8518 map with the shipped model: a valid
                    map, which must work (the import and working-set floor)
  segment on hostile maps (the shipped model, --device cpu, --resolution 6.1):
  bomb-2048^3.gz    a .mrc.gz of ~33 MB expanding to 32 GiB: a header claiming 2048³ float32,
                    then zeros (concatenated gzip members of 1 GiB of zeros compressed once)
  bomb-small-hdr.gz the same zeros behind a header claiming EMD-8518's 55×81×91 float32
  claims-11GB.mrc   a header claiming 1400³ float32 (11 GB) and 1 MiB of data; and gzipped
  100^3-at-10A.mrc  a real 4 MB 100³ map with 10 Å voxels: a 1000³ 1 Å working grid
  nsymbt-2GB.mrc    a 5 KB file whose header claims a 2 GB extended header; and gzipped
  ckpt-depth40      --model: the shipped checkpoint with model_config depth 40 / base 4000;
                    -keys with weights of 41 encoder levels, so the shape check refuses it
  ckpt-nan          the shipped checkpoint with one NaN in head.weight
  `cryosse curate EMD-8518` on a one-entry mirror whose map is a gzip bomb (curate-bomb,
  -bomb-hdr with the entry header's size made to match, -bomb-small), whose model has one Cα
  600 Å away (curate-far-atom: KEPT, the box clipped), whose cell angle gamma is 60°
  (curate-gamma60) or whose origin x is 1e30 (curate-origin1e30)
  the loopback archive (tests/support/archive_server.py) trickling one byte per TRICKLE_S,
  far more often than download.timeout: `cryosse search` (search-body: the body trickles;
  search-head: the status line and headers themselves trickle) and `cryosse fetch EMD-8518`
  (fetch-map-body, fetch-map-head: the map's answer trickles)

A case passes with no traceback, not stopped by the memory cap, peak RSS below the budget,
and: segment and search exit non-zero with a "cryosse ..." reason; fetch prints the entry's
exclusion reason; curate writes curation_log.tsv and manifest.tsv with the entry excluded (or
kept) and a reason; a network case gives up within its deadline + DEADLINE_SLACK_S, counted
from the trickled request's arrival at the server. The network cases set search.deadline and
download.deadline to DEADLINE_S (the defaults, 600 s and 3600 s, are too long to wait for); a
map gets at least its header's size at 1 MB/s (archive.HttpArchive.map_file).

The slowest cases are the eleven `segment` runs (each a fresh interpreter importing torch) and
the four network cases (each waits for its deadline); `-k` trims them. The history of the bugs
these cases found, and a measured run, are in docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_MIRROR, REPO
from tests.support.archive_server import ArchiveServer, Fault, start_server, stop_server
from tests.support.mrc import MRC_HEADER, float_data, mrc_header, patched

pytestmark = pytest.mark.slow

SRC = REPO / "src"
DEMO_ID = "EMD-8518"
DEMO_ENTRY = DEMO_MIRROR / "emdb" / "structures" / DEMO_ID
DEMO_MAP = DEMO_ENTRY / "map" / "emd_8518.map.gz"
DEMO_HEADER = DEMO_ENTRY / "header" / "emd-8518-v30.xml"
DEMO_MODEL = DEMO_MIRROR / "pdb" / "5u8s.pdb.gz"
DEMO_DIMS = (55, 81, 91)  # EMD-8518's component map, float32 at 1 Å
DEMO_SIZE_KB = 1622
GIB = 2**30
CAP_GIB = 8
TRICKLE_S = 2.0  # one byte per 2 s: never trips download.timeout (30 s), only the deadline
DEADLINE_S = 10.0
DEADLINE_SLACK_S = 15.0
MAP_PREFIX = f"/emdb/structures/{DEMO_ID}/map/"
SEARCH_PREFIX = "/emdb/api/search/"

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
    demo = gzip.decompress(DEMO_MAP.read_bytes())
    for name, offset, values in (
        ("gamma60", 52, (90.0, 90.0, 60.0)),
        ("origin1e30", 196, (1e30, 0.0, 0.0)),
    ):
        maps[name] = folder / f"{name}.map.gz"
        maps[name].write_bytes(gzip.compress(patched(demo, offset, "<3f", *values), 6, mtime=0))
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
    """5u8s as PDB text with its 41st Cα moved `shift` Å in x, y and z (columns 31-54)."""
    lines = gzip.decompress(DEMO_MODEL.read_bytes()).decode().splitlines(keepends=True)
    cas = [i for i, line in enumerate(lines) if line.startswith("ATOM") and line[12:16] == " CA "]
    i = cas[40]
    xyz = [float(lines[i][30 + 8 * k : 38 + 8 * k]) + shift for k in range(3)]
    lines[i] = lines[i][:30] + "".join(f"{v:8.3f}" for v in xyz) + lines[i][54:]
    return "".join(lines).encode()


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


# ------------------------------------------------------------------------- the cases --


@dataclass
class Case:
    name: str
    kind: str  # ref, segment, curate (excluded), curate-kept, search, fetch
    argv: list[str]
    out: Path | None = None  # curate --out
    deadline: float | None = None  # the deadline that applies (s)
    limit_s: float = 300.0  # killed after this
    trickle: tuple[str, Fault] | None = None  # the archive's standing fault: prefix, fault


@dataclass
class Outcome:
    exit: int | None
    wall_s: float
    peak_mib: float
    budget_bytes: int | None
    reason: str
    problems: list[str] = field(default_factory=list)
    gave_up_s: float | None = None  # from the trickled request's arrival to the exit


def segment_case(name: str, kind: str, map_path: Path, work: Path, *extra: str) -> Case:
    argv = ["segment", str(map_path), "--out", str(work / "out" / name), "--device", "cpu"]
    return Case(name, kind, [*argv, "--resolution", "6.1", *extra])


def segment_cases(work: Path, maps: dict[str, Path]) -> list[Case]:
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
    models = work / "models"
    for name, file in (
        ("ckpt-depth40", "depth40.pt"),
        ("ckpt-depth40-keys", "depth40-keys.pt"),
        ("ckpt-nan", "nan-weight.pt"),
    ):
        cases.append(
            segment_case(name, "segment", maps["demo"], work, "--model", str(models / file))
        )
    return cases


def curate_cases(work: Path, maps: dict[str, Path]) -> list[Case]:
    bomb_kb = (MRC_HEADER + 2048**3 * 4) // 1000
    plans = [
        ("curate-bomb", "curate", maps["bomb"], None, None),
        ("curate-bomb-hdr", "curate", maps["bomb"], bomb_kb, None),
        ("curate-bomb-small", "curate", maps["bomb_small"], None, None),
        ("curate-far-atom", "curate-kept", maps["demo"], None, far_atom_model(600.0)),
        ("curate-gamma60", "curate", maps["gamma60"], None, None),
        ("curate-origin1e30", "curate", maps["origin1e30"], None, None),
    ]
    cases = []
    for name, kind, map_path, size_kb, model in plans:
        mirror = build_mirror(work / "mirrors" / name, map_path, size_kb, model)
        out = work / "out" / name
        argv = ["curate", DEMO_ID, "--mirror", str(mirror), "--out", str(out)]
        cases.append(Case(name, kind, argv, out=out))
    return cases


def net_config(work: Path, name: str, archive: ArchiveServer) -> Path:
    """A workflow config (JSON is YAML) with every archive URL at the loopback archive."""
    config = {
        "archive": {**archive.config(), "cache": str(work / "cache" / name)},
        "download": {"deadline": DEADLINE_S, "timeout": 30, "retries": 5},
        "search": {"deadline": DEADLINE_S},
    }
    path = work / "config" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    return path


def network_cases(work: Path, archive: ArchiveServer, map_deadline: float) -> list[Case]:
    from cryosse.acquire.search import SearchQuery
    from cryosse.core.config import load_config

    cases = []
    for mode, kind in (("body", "trickle"), ("head", "trickle_head")):
        name = f"search-{mode}"
        config = net_config(work, name, archive)
        if mode == "body":  # the search's answer, for the body to trickle
            settings = load_config(config)
            query = SearchQuery.from_config(settings["search"], settings["resolution"])
            archive.publish_search(query.to_solr(), "emdb_id\n" + "EMD-1\n" * 10_000)
        argv = ["search", "--config", str(config), "--entries", str(work / f"entries-{mode}.tsv")]
        fault = (SEARCH_PREFIX, Fault(kind, seconds=TRICKLE_S))
        cases.append(Case(name, "search", argv, None, DEADLINE_S, 3 * DEADLINE_S, fault))
    for mode, kind in (("body", "trickle"), ("head", "trickle_head")):
        name = f"fetch-map-{mode}"
        argv = ["fetch", "--config", str(net_config(work, name, archive)), DEMO_ID]
        fault = (MAP_PREFIX, Fault(kind, seconds=TRICKLE_S))
        cases.append(Case(name, "fetch", argv, None, map_deadline, 3 * map_deadline, fault))
    return cases


CASE_NAMES = [
    "ref-segment",
    "bomb-2048^3.gz",
    "bomb-small-hdr.gz",
    "claims-11GB.mrc",
    "claims-11GB.gz",
    "100^3-at-10A.mrc",
    "nsymbt-2GB.mrc",
    "nsymbt-2GB.gz",
    "ckpt-depth40",
    "ckpt-depth40-keys",
    "ckpt-nan",
    "curate-bomb",
    "curate-bomb-hdr",
    "curate-bomb-small",
    "curate-far-atom",
    "curate-gamma60",
    "curate-origin1e30",
    "search-body",
    "search-head",
    "fetch-map-body",
    "fetch-map-head",
]


@pytest.fixture(scope="module")
def archive() -> Iterator[ArchiveServer]:
    state, httpd = start_server()
    state.serve_mirror(DEMO_MIRROR)
    try:
        yield state
    finally:
        stop_server(state, httpd)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def cases(work: Path, archive: ArchiveServer) -> dict[str, Case]:
    maps = build_maps(work / "maps")
    built = build_checkpoints(work / "models", CAP_GIB * GIB, DEADLINE_S)
    every = [
        *segment_cases(work, maps),
        *curate_cases(work, maps),
        *network_cases(work, archive, float(built["map_deadline"])),
    ]
    assert [c.name for c in every] == CASE_NAMES
    return {c.name: c for c in every}


# ------------------------------------------------------------------------- measuring --


def run_child(case: Case, work: Path) -> dict[str, Any]:
    """Run the case's command in a fresh child; its exit, wall time, ru_maxrss, output."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    budget_file = logs / f"{case.name}.budget"
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-c", CHILD, str(budget_file), str(CAP_GIB * GIB), *case.argv]
    with (logs / f"{case.name}.out").open("w") as out, (logs / f"{case.name}.err").open("w") as err:
        started = time.monotonic()
        child = subprocess.Popen(
            argv,
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


def judge(case: Case, run: dict[str, Any], reason: str, problems: list[str]) -> None:
    """Add to `problems` what makes the case FAIL."""
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


def measure(case: Case, work: Path, archive: ArchiveServer) -> Outcome:
    before = len(archive.requests)
    if case.trickle is not None:
        archive.standing = dict([case.trickle])
    try:
        run = run_child(case, work)
    finally:
        archive.standing = {}
    prefix = case.trickle[0] if case.trickle else None
    trickled = [r.time for r in archive.requests[before:] if prefix and r.path.startswith(prefix)]
    run["gave_up_s"] = run["ended"] - trickled[0] if trickled else None
    problems: list[str] = []
    if case.kind in ("curate", "curate-kept"):
        expected = "kept" if case.kind == "curate-kept" else "excluded"
        reason, problems = curation_reason(case.out or work, expected)
        if "Traceback" in run["stderr"]:
            reason = printed_reason(case, run)
    else:
        reason = printed_reason(case, run)
    judge(case, run, reason, problems)
    return Outcome(
        run["exit"],
        run["wall_s"],
        run["peak_mib"],
        run["budget"],
        reason.replace(str(work), "$T").replace(archive.url, "$S"),
        problems,
        gave_up_s=run["gave_up_s"],
    )


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_input(
    name: str, cases: dict[str, Case], work: Path, archive: ArchiveServer
) -> None:
    outcome = measure(cases[name], work, archive)
    assert not outcome.problems, outcome
