"""`cryosse segment --out`: claimed before any work (created, writable, locked), so an unusable
folder stops the run at once and two runs never mix their outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryosse.core.output_folder import LOCK_NAME, FolderError, claimed_folder
from tests.conftest import REALDATA

SMALL_MAP = REALDATA / "EMD-3491" / "L-1.0APIX.mrc"  # 37 x 47 x 64 at 1 Å


def segment(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cryosse.cli", "segment", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_claimed_folder_refuses_a_second_writer_and_a_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with claimed_folder(out):
        assert (out / LOCK_NAME).exists()
        with pytest.raises(FolderError, match="another cryosse run"), claimed_folder(out):
            pass
    with claimed_folder(out):  # released at the end of the block
        pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(FolderError, match="is not a folder"), claimed_folder(tmp_path / "file"):
        pass
    with pytest.raises(FolderError, match="not writable"), claimed_folder(tmp_path / "file/a"):
        pass
    # a failed block removes the folder it created
    with pytest.raises(ZeroDivisionError), claimed_folder(tmp_path / "new"):
        1 / 0  # noqa: B018
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(not SMALL_MAP.exists(), reason="needs ../shared/realdata")
def test_segment_stops_before_predicting_when_out_is_unusable_or_in_use(tmp_path: Path) -> None:
    out = tmp_path / "seg"
    with claimed_folder(out):  # another run holds the folder
        busy = segment(str(SMALL_MAP), "--out", str(out))
    assert busy.returncode == 1 and "Traceback" not in busy.stderr
    assert busy.stderr.strip() == (
        f"cryosse segment: --out {out}: another cryosse run is writing there; wait for it to "
        "finish or choose another folder"
    )
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    # checked before the model is even looked for: the folder's line, not the model's
    unwritable = segment(str(SMALL_MAP), "--out", str(blocked / "seg"), "--model", "absent.pt")
    assert unwritable.returncode == 1
    assert unwritable.stderr.strip().endswith("not writable (Not a directory)")
    if os.geteuid() != 0:  # root writes anywhere: only the path case above applies
        locked = tmp_path / "read_only"
        locked.mkdir(mode=0o555)
        refused = segment(str(SMALL_MAP), "--out", str(locked))
        assert refused.returncode == 1 and "not writable" in refused.stderr
    done = segment(str(SMALL_MAP), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "L-1.0APIX_labels.mrc").exists()
    # a bad map fails before the folder is left behind
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(b"")
    failed = segment(str(empty), "--out", str(tmp_path / "never"))
    assert failed.returncode == 1 and not (tmp_path / "never").exists()
