"""The README's commands are run, not just written: every command block names the test or
`make` target that runs it (`<!-- run-by: ... -->` just above the block), and the quick start —
segment a demo map, open it in ChimeraX, score it — is run here exactly as printed."""

from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
MARKER = re.compile(r"<!-- run-by: (.+?) -->")
# Fenced blocks with these languages hold commands; an untagged block is a figure (the flow).
COMMAND_LANGUAGES = {"bash", "text"}
QUICK_START = "tests/e2e/test_readme.py::test_quick_start"


@dataclass
class Block:
    language: str
    lines: list[str]
    runners: list[str]
    line_number: int


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            language = lines[i][3:].strip()
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            above = "\n".join(lines[max(0, i - 3) : i])
            found = MARKER.search(above)
            runners = [r.strip() for r in found.group(1).split(",")] if found else []
            blocks.append(Block(language, lines[i + 1 : end], runners, i + 1))
            i = end + 1
        else:
            i += 1
    return blocks


def commands(block: Block) -> list[str]:
    """Its command lines: continuation lines joined, comments and blank lines dropped."""
    joined: list[str] = []
    pending = ""
    for line in block.lines:
        line = pending + line.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        words = shlex.split(line, comments=True)
        if words:
            joined.append(shlex.join(words))
    return joined


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))


def command_blocks() -> list[Block]:
    return [b for b in readme_blocks(README.read_text()) if b.language in COMMAND_LANGUAGES]


def test_every_command_block_names_what_runs_it() -> None:
    blocks = readme_blocks(README.read_text())
    untagged = [b for b in blocks if not b.language]
    assert all("→" in "\n".join(b.lines) for b in untagged), "an untagged block holds commands"
    runnable = command_blocks()
    assert len(runnable) >= 5
    targets = make_targets()
    for block in runnable:
        where = f"README.md:{block.line_number}"
        assert block.runners, f"{where}: no <!-- run-by: ... --> above the block"
        for runner in block.runners:
            if runner.startswith("make "):
                assert runner.split()[1] in targets, f"{where}: no make target {runner}"
            else:
                path, _, name = runner.partition("::")
                assert (REPO / path).is_file(), f"{where}: {path} does not exist"
                assert f"def {name}(" in (REPO / path).read_text(), f"{where}: no {runner}"
        # a block run by make targets holds only those targets
        if all(r.startswith("make ") for r in block.runners):
            assert set(commands(block)) <= set(block.runners), where


def test_block_parsing_sees_markers_commands_and_continuations() -> None:
    text = (
        "intro\n\n<!-- run-by: make demo, tests/x.py::t -->\n```bash\nmake demo  # note\n"
        "a --b \\\n    c\n```\n\n```\nA → B\n```\n"
    )
    first, second = readme_blocks(text)
    assert first.runners == ["make demo", "tests/x.py::t"] and first.language == "bash"
    assert commands(first) == ["make demo", "a --b c"]
    assert second.language == "" and second.runners == []


def chimerax_opens(line: str, folder: Path) -> Path | None:
    words = shlex.split(line)
    if words and words[0] == "open":
        return folder / words[1]
    return None


@pytest.mark.slow
def test_quick_start(tmp_path: Path) -> None:
    """The quick start's blocks, in order, in a folder laid out like a checkout (demo/ and
    .venv/ linked); `make setup` is the prerequisite `make test` already ran."""
    (tmp_path / "demo").symlink_to(REPO / "demo")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    blocks = [b for b in command_blocks() if QUICK_START in b.runners]
    assert [b.language for b in blocks] == ["bash", "text", "bash"]
    for block in blocks:
        for command in commands(block):
            if block.language == "text":  # ChimeraX: every file it opens exists
                opened = chimerax_opens(command, tmp_path)
                assert opened is not None and opened.is_file(), command
                cxc_files = [
                    chimerax_opens(line, opened.parent) for line in opened.read_text().splitlines()
                ]
                assert len([f for f in cxc_files if f]) >= 3
                assert all(f.is_file() for f in cxc_files if f), opened.read_text()
            elif command == "make setup":
                continue
            else:
                run = subprocess.run(
                    ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True
                )
                assert run.returncode == 0, run.stderr[-2000:]

    out = tmp_path / "emd_8518_sse"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resolution"]["value_A"] == pytest.approx(6.1)
    assert summary["helix"]["voxels"] > 0
    with open(out / "emd_8518_residues.tsv", newline="") as handle:
        residues = list(csv.DictReader(handle, delimiter="\t"))
    assert len(residues) == 208
    with open(tmp_path / "emd_8518_scores.tsv", newline="") as handle:
        scores = list(csv.DictReader(handle, delimiter="\t"))
    by_predictor = {row["predictor"]: row for row in scores}
    assert set(by_predictor) == {"tool", "threshold", "hessian", "all_helix"}
    # the shipped model finds helices better than a density threshold on this real map
    tool, threshold = by_predictor["tool"], by_predictor["threshold"]
    assert float(tool["voxel_f1_helix"]) > float(threshold["voxel_f1_helix"]) + 0.1
