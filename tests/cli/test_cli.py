import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cryosse import __version__
from cryosse.cli import build_parser, main
from tests.conftest import DEMO_MIRROR

CRYOSSE = Path(sys.executable).with_name("cryosse")


def test_cli_curates_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            str(CRYOSSE),
            "curate",
            "EMD-8518",
            "not-an-id",
            "--mirror",
            str(DEMO_MIRROR),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "invalid_id" in result.stdout and "kept" in result.stdout
    assert (out / "entries/EMD-8518/samples/EMD-8518_5u8s_A/labels.mrc").is_file()
    summary = subprocess.run(
        [str(CRYOSSE), "summary", str(out / "curation_log.tsv")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "chain  kept" in summary.stdout
    version = subprocess.run([str(CRYOSSE), "version"], capture_output=True, text=True, check=True)
    assert "mkdssp version 4" in version.stdout


def test_version_flag_and_every_help_ends_with_an_example_that_parses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"cryosse {__version__}\n"
    parser = build_parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subcommands.choices) >= 12
    for name, sub in subcommands.choices.items():
        lines = sub.format_help().rstrip().splitlines()
        assert lines[-2] == "example:", (name, lines[-3:])
        example = shlex.split(lines[-1])
        assert example[:2] == ["cryosse", name], lines[-1]
        # the example is a valid command line of this very parser
        assert build_parser().parse_args(example[1:]).command == name
