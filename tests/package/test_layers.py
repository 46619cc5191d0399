"""The package's layers, one subpackage per stage in the order data flows: a module imports only
from its own subpackage or the ones before it, so the stages can be read bottom-up and nothing
imports back up. A new subpackage must be placed in the order here."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "src" / "cryosse"

# lower layers first; the top-level cryosse/__init__.py counts as core
LAYERS = (
    "core",  # ids, reasons, atomic writes, hashing, TSV, classes, config, run grid, F1
    "io",  # maps, structures, samples, mirror layout, headers, entry lists, curation log
    "acquire",
    "curate",
    "synthetic",
    "splits",
    "learn",
    "evaluate",
    "report",
    "segment",
    "workflow",  # what the Snakefile needs beside the stages
    "cli",
)
RANK = {layer: rank for rank, layer in enumerate(LAYERS)}


def layer_of(module: str) -> str:
    """cryosse.curate.dssp -> curate; cryosse (the package itself) -> core."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "core"


def imported_modules(path: Path) -> set[str]:
    """The cryosse modules a file imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cryosse"):
            if node.module == "cryosse":  # from cryosse import curate
                found.update(f"cryosse.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cryosse"))
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p) for p in sorted(PACKAGE.rglob("*.py"))}


def upward_imports(modules: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} ({layer_of(module)}) imports {used} ({layer_of(used)})"
        for module, used_set in modules.items()
        for used in used_set
        if layer_of(used) in RANK and RANK[layer_of(used)] > RANK[layer_of(module)]
    )


def test_every_subpackage_has_a_layer() -> None:
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(LAYERS), "place the subpackage in LAYERS"
    assert [p.name for p in PACKAGE.glob("*.py")] == ["__init__.py"], "modules live in stages"


def test_no_module_imports_a_later_stage() -> None:
    assert upward_imports(package_imports()) == []


def test_a_wrong_import_is_caught(tmp_path: Path) -> None:
    """The check itself: a core module importing segment and report is reported."""
    wrong = tmp_path / "ids.py"
    wrong.write_text(
        "from cryosse.segment.predict import segment_map\nimport cryosse.report.html\n"
    )
    found = upward_imports({"cryosse.core.ids": imported_modules(wrong)})
    assert found == [
        "cryosse.core.ids (core) imports cryosse.report.html (report)",
        "cryosse.core.ids (core) imports cryosse.segment.predict (segment)",
    ]


def test_contributing_lists_every_module() -> None:
    """CONTRIBUTING.md's layer table is where a newcomer finds a module: a module added, moved
    or renamed appears there under its layer."""
    rows = {}
    for line in (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if len(cells) == 5 and cells[1].strip().strip("`") in LAYERS:
            rows[cells[1].strip().strip("`")] = cells[3]
    missing = [
        f"{layer}.{path.stem}"
        for layer in LAYERS
        for path in sorted((PACKAGE / layer).glob("*.py"))
        if not path.stem.startswith("__") and f"`{path.stem}`" not in rows.get(layer, "")
    ]
    assert not missing, f"add to CONTRIBUTING.md's layer table: {missing}"


def test_no_stage_imports_another_stage_entry() -> None:
    """A stage.py is what the workflow calls, not a library: what later stages need of an
    earlier one (the manifest, the split's sample folders, the best runs) is handed over in io
    (io.sample, io.run_layout). Only the command line, which runs stages as the rules do,
    calls other stages' entries."""
    crossing = sorted(
        f"{module} imports {used}"
        for module, used_set in package_imports().items()
        if layer_of(module) != "cli"
        for used in used_set
        if used.endswith(".stage") and layer_of(used) != layer_of(module)
    )
    assert not crossing, crossing
