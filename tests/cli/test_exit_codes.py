"""Exit codes that wrappers (Snakemake, Scipion, CCP-EM) can act on (cryosse.cli.main):
1 bad input, 2 out of resources (memory, disk), 3 internal error. Each is produced here the way
a user meets it, in its own process, except the internal error, which needs a bug."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pytest
import yaml

from cryosse.cli import main
from tests.conftest import DEMO_MIRROR
from tests.support.archive_server import start_server, stop_server
from tests.support.cli import cryosse
from tests.support.full_disk import needs_root, small_tmpfs

DEMO_8518 = DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz"


@pytest.mark.parametrize(
    "args",
    [
        ["segment"],  # no map: argparse's own error (its exit 2 would read as out of memory)
        ["segment", "absent.map"],
        ["add", "EMD-1", "--entries", "."],
        ["evaluate", "--pred-helix", "h.mrc", "--pred-sheet", "s.mrc", "--map", "m.mrc"],
        ["evaluate", "--pred-sheet", "s.mrc", "--map", "m.mrc", "--structure", "c.cif"],
        ["no-such-command"],
    ],
)
def test_bad_input_exits_1_without_a_traceback(args: list[str], tmp_path: Path) -> None:
    result = cryosse(*args, cwd=tmp_path)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and result.stderr.strip()


def test_evaluate_out_on_a_folder_is_refused_before_scoring(tmp_path: Path) -> None:
    (tmp_path / "scores").mkdir()
    args = ["evaluate", "--pred-helix", "h.mrc", "--pred-sheet", "s.mrc", "--map", "m.mrc"]
    result = cryosse(*args, "--structure", "c.cif", "--out", "scores", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--out scores is a folder" in result.stderr


def test_a_map_beyond_the_memory_budget_exits_2(tmp_path: Path) -> None:
    """100³ voxels of 20 Å: about 8·10⁹ voxels on the 1 Å grid, refused from the header."""
    big = tmp_path / "coarse.mrc"
    with mrcfile.new(big) as mrc:
        mrc.set_data(np.random.default_rng(0).random((100, 100, 100), dtype=np.float32))
        mrc.voxel_size = 20.0
    result = cryosse("segment", str(big), "--out", "o", cwd=tmp_path)
    assert result.returncode == 2, result
    assert "needs about" in result.stderr and "budget" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_a_bug_exits_3_with_its_traceback_and_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No input makes a correct program fail this way, so the bug is put in by hand: the log
    summary raises as a bug would."""
    import cryosse.curate.stage

    def broken(path: str) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cryosse.curate.stage, "summarize_log", broken)
    assert main(["summary", str(tmp_path / "log.tsv")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug" in err
    assert err.splitlines()[-1].startswith("cryosse summary: internal error (RuntimeError: a bug)")


def test_segment_succeeds_with_exit_0(tmp_path: Path) -> None:
    result = cryosse("segment", str(DEMO_8518), "--out", "o", "--threads", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@needs_root
def test_a_full_disk_during_fetch_is_one_line_exit_2(tmp_path: Path) -> None:
    """EMD-5168's 3.7 MB map from a real HTTP server on 127.0.0.1 into a 1 MB cache: before, an
    OSError traceback; now the cache is named and the partial file is kept to resume."""
    state, httpd = start_server()
    try:
        state.serve_mirror(DEMO_MIRROR)
        with small_tmpfs(tmp_path / "disk", 1024) as disk:
            archive = {**state.config(), "cache": str(disk / "archive")}
            config = {"run": "t", "archive": archive, "entries": ["EMD-5168"]}
            (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
            result = cryosse("fetch", "--config", "c.yaml", cwd=tmp_path)
            assert result.returncode == 2, result.stderr
            assert "Traceback" not in result.stderr
            (line,) = [x for x in result.stderr.splitlines() if x.startswith("cryosse fetch:")]
            assert "No space left on device" in line and str(disk / "archive") in line
            assert list(disk.rglob(".part-emd_5168.map.gz"))  # resumes at the next fetch
    finally:
        stop_server(state, httpd)
