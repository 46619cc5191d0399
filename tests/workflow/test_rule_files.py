"""The Snakemake layer lines up with the package: rules/<stage>.smk holds the rules of one
stage, whose code is src/cryosse/<stage>/ and whose tests are tests/<stage>/; each rule's adapter
calls that stage's stage.py (where the stage has one)."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO

RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", re.M)
SCRIPT = re.compile(r'script:\s*\n\s*"\.\./workflow_scripts/(\w+\.py)"')
STAGES = ("acquire", "curate", "splits", "learn", "evaluate", "segment", "report")


def _imported(adapter: str) -> set[str]:
    tree = ast.parse((REPO / "workflow_scripts" / adapter).read_text(encoding="utf-8"))
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_rule_files_are_named_after_the_stages() -> None:
    names = sorted(p.stem for p in (REPO / "rules").glob("*.smk") if p.stem != "common")
    assert names == sorted(STAGES)
    for stage in names:
        assert (REPO / "src" / "cryosse" / stage).is_dir(), stage
        assert (REPO / "tests" / stage).is_dir(), stage


def test_every_adapter_calls_its_stage() -> None:
    seen = 0
    for stage in STAGES:
        text = (REPO / "rules" / f"{stage}.smk").read_text(encoding="utf-8")
        has_stage_py = (REPO / "src" / "cryosse" / stage / "stage.py").is_file()
        for name, block in RULE.findall(text):
            for adapter in SCRIPT.findall(block):
                seen += 1
                modules = _imported(adapter)
                if has_stage_py:
                    assert f"cryosse.{stage}.stage" in modules, (name, adapter, modules)
                else:
                    assert any(m.startswith(f"cryosse.{stage}.") for m in modules), (name, modules)
    assert seen == len(list((REPO / "workflow_scripts").glob("*.py")))


def test_paths_are_typed_once() -> None:
    """Each output path is written in the rule that makes it; the others refer to that rule."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "rules").glob("*.smk")))
    text += (REPO / "Snakefile").read_text(encoding="utf-8")
    for path in ("manifest.tsv", "curation_log.tsv", "splits/main.tsv", "splits/cv.tsv"):
        assert text.count(f'{{RESULTS}}/{path}"') == 1, path
    assert len(re.findall(r"\brules\.\w+\.(?:output|input)\b", text)) >= 10
