import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_MIRROR

CRYOSSE = Path(sys.executable).with_name("cryosse")


def test_cli_curates_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [str(CRYOSSE), "curate", "EMD-8518", "not-an-id", "--mirror", str(DEMO_MIRROR),
         "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "invalid_id" in result.stdout and "kept" in result.stdout
    assert (out / "entries/EMD-8518/samples/EMD-8518_5u8s_A/labels.mrc").is_file()
    summary = subprocess.run([str(CRYOSSE), "summary", str(out / "curation_log.tsv")],
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert "chain  kept" in summary.stdout
    version = subprocess.run([str(CRYOSSE), "version"], capture_output=True, text=True, check=True)
    assert "mkdssp version 4" in version.stdout
