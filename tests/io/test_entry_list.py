"""The user's entry list and config through `cryosse add` / `cryosse fetch`: existing rows are
never rewritten, and a wrong file or place ends in one line, not a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cryosse.io.entries import EntryListError, EntryRecord, add_entries, read_entry_table
from tests.conftest import REPO
from tests.support.cli import cryosse


def one_line_refusal(result: subprocess.CompletedProcess, command: str) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"cryosse {command}: ")
    return line


def test_add_keeps_the_users_own_columns_rows_and_line_endings(tmp_path: Path) -> None:
    entries = tmp_path / "mine.tsv"
    before = b"emdb_id\tnote\tresolution\r\nEMD-1234\tmy own words\t6.1\r\nEMD-5168\t\t\r\n"
    entries.write_bytes(before)
    addition = add_entries(entries, [EntryRecord("EMD-8518", resolution="6.1")])
    assert addition.added == ["EMD-8518"]
    after = entries.read_bytes()
    assert after.startswith(before)  # not one existing byte changed
    assert after[len(before) :] == b"EMD-8518\t\t6.1\r\n"
    assert [r.emdb_id for r in read_entry_table(entries)] == ["EMD-1234", "EMD-5168", "EMD-8518"]
    no_newline = tmp_path / "short.tsv"
    no_newline.write_text("emdb_id\nEMD-1234")
    add_entries(no_newline, [EntryRecord("EMD-5678")])
    assert no_newline.read_text() == "emdb_id\nEMD-1234\nEMD-5678\n"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (bytes(range(256)) * 8, "binary data"),
        (b"emdb_id\n\xff\xfeEMD-1234\n", "not UTF-8"),
        (b"EMD-1234\nEMD-5168\n", "header naming an 'emdb_id' column"),
        (b"", "header naming an 'emdb_id' column"),
    ],
)
def test_a_file_that_is_no_entry_list_is_refused_in_one_line(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    entries = tmp_path / "entries.tsv"
    entries.write_bytes(content)
    with pytest.raises(EntryListError, match=reason):
        read_entry_table(entries)
    line = one_line_refusal(
        cryosse("add", "EMD-8518", "--entries", str(entries), cwd=tmp_path), "add"
    )
    assert reason in line
    assert entries.read_bytes() == content  # nothing written


def test_add_and_fetch_outside_the_project_or_before_any_list(tmp_path: Path) -> None:
    # outside the project folder: no config/config.yaml, no entry list named
    line = one_line_refusal(cryosse("add", "EMD-8518", cwd=tmp_path), "add")
    assert "no entry list" in line and "--entries" in line
    one_line_refusal(cryosse("fetch", cwd=tmp_path), "fetch")
    line = one_line_refusal(
        cryosse("add", "EMD-8518", "--config", "absent.yaml", cwd=tmp_path), "add"
    )
    assert "absent.yaml" in line
    (tmp_path / "broken.yaml").write_text("archive: [unclosed\n")
    one_line_refusal(cryosse("search", "--config", "broken.yaml", cwd=tmp_path), "search")
    # inside a project whose entry list does not exist yet (the real config, its own list)
    (tmp_path / "config").mkdir()
    config = (REPO / "config/config.yaml").read_text()
    assert "entries_file: config/entries.tsv" in config and "enabled: true" in config
    (tmp_path / "config/config.yaml").write_text(config)
    line = one_line_refusal(cryosse("fetch", cwd=tmp_path), "fetch")
    assert "config/entries.tsv does not exist" in line and "cryosse search" in line
    added = cryosse("add", "EMD-8518", cwd=tmp_path)
    assert added.returncode == 0 and "Traceback" not in added.stderr
    assert "search (search.enabled) will not run" in added.stderr  # said, not silent
    assert [r.emdb_id for r in read_entry_table(tmp_path / "config/entries.tsv")] == ["EMD-8518"]
    again = cryosse("add", "EMD-6149", cwd=tmp_path)
    assert again.returncode == 0 and "will not run" not in again.stderr  # said once, at creation
