"""Every adapter in workflow_scripts/ first sends stderr to its rule's log (tracebacks and
warnings, imports' included, land there), passes its stage function every argument by name,
and every rule that runs a script has a log."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

ADAPTERS = sorted((REPO / "workflow_scripts").glob("*.py"))
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", re.M)


def _is_stderr_to_log(node: ast.stmt) -> bool:
    """`sys.stderr = open(snakemake.log[0], "a", buffering=1)`: append, line-buffered."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return False
    target, call = node.targets[0], node.value
    return (
        ast.unparse(target) == "sys.stderr"
        and isinstance(call, ast.Call)
        and ast.unparse(call.func) == "open"
        and [ast.unparse(a) for a in call.args] == ["snakemake.log[0]", "'a'"]
        and [(k.arg, ast.unparse(k.value)) for k in call.keywords] == [("buffering", "1")]
    )


def test_there_are_adapters() -> None:
    assert len(ADAPTERS) >= 10


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_adapter_redirects_stderr_to_its_log_first(adapter: Path) -> None:
    body = ast.parse(adapter.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    assert ast.unparse(body[0]) == "import sys"
    assert _is_stderr_to_log(body[1]), f"{adapter.name}: statement 2 is {ast.unparse(body[1])}"


def _stage_calls(adapter: Path) -> list[tuple[str, str, ast.Call]]:
    """(module, function, call) of each call of a `cryosse.<stage>.stage` function that a
    statement makes."""
    tree = ast.parse(adapter.read_text(encoding="utf-8"))
    imported = {
        alias.asname or alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("cryosse.")
        and node.module.endswith(".stage")
        for alias in node.names
    }
    # the call a statement makes (not a helper called for a log line's argument)
    made = [
        getattr(node, "iter" if isinstance(node, ast.For) else "value")
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr | ast.Assign | ast.For)
    ]
    return [
        (imported[call.func.id], call.func.id, call)
        for call in made
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in imported
    ]


@pytest.mark.parametrize(
    "adapter",
    ADAPTERS,
    ids=lambda p: p.name,
)
def test_adapter_names_every_argument_of_its_stage(adapter: Path) -> None:
    """Stage functions take keyword-only arguments, so that two paths swapped by an adapter
    fail instead of writing one output in the other's place; the names must exist."""
    for module, name, call in _stage_calls(adapter):
        function = getattr(importlib.import_module(module), name)
        parameters = inspect.signature(function).parameters.values()
        assert all(p.kind is p.KEYWORD_ONLY for p in parameters), f"{module}.{name}"
        assert not call.args, f"{adapter.name}: {name} gets positional arguments"
        inspect.signature(function).bind(**{k.arg: None for k in call.keywords if k.arg})


def test_every_rule_that_runs_a_script_has_a_log() -> None:
    rules = {}
    for smk in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        for name, block in RULE.findall(smk.read_text(encoding="utf-8")):
            rules[name] = block
    scripted = {
        name: block for name, block in rules.items() if re.search(r"^\s+script:", block, re.M)
    }
    assert len(scripted) >= len(ADAPTERS)
    assert [
        name for name, block in scripted.items() if not re.search(r"^\s+log:", block, re.M)
    ] == []
    named = {m for b in scripted.values() for m in re.findall(r"workflow_scripts/(\w+\.py)", b)}
    assert named == {p.name for p in ADAPTERS}
