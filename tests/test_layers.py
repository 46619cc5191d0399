"""The package's layers, in the order data flows: a module imports only from its own layer or
the layers before it, so the stages can be read (and moved) bottom-up and nothing imports back
up. A new module must be placed in a layer here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "src" / "cryosse"

# layer -> its modules; lower layers first
LAYERS: dict[str, set[str]] = {
    name: set(modules.split())
    for name, modules in {
        "core": "__init__ ids reasons atomic hashing tsv classes config grid resources "
        "http_deadline output_folder",
        "io": "density model sample mirror header obsolete entries curation_log",
        "acquire": "download archive locate search estimate",
        "curate": "dssp chains crop labels quality settings curate",
        "synthetic": "mirror_entry simulate derive offline",
        "splits": "clusters toolchain published splits split_report",
        "score": "metrics statistics",  # F1 and its statistics: validation and evaluation
        "learn": "unet losses boxes device checkpoint training calibration tiling",
        "evaluate": "baselines map_scoring evaluation external residue_table tables",
        "report": "plots report",
        "segment": "chimerax segment",
        "application": "dataset default_model cli",
    }.items()
}
RANK = {module: rank for rank, modules in enumerate(LAYERS.values()) for module in modules}


def cryosse_imports(path: Path) -> set[str]:
    """The cryosse modules a file imports, at the top or inside functions."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cryosse"):
            parts = node.module.split(".")
            if len(parts) > 1:
                imported.add(parts[1])
            else:  # from cryosse import x
                imported.update(alias.name for alias in node.names if alias.name in RANK)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cryosse."):
                    imported.add(alias.name.split(".")[1])
    return imported


def upward_imports(modules: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} ({layer_of(module)}) imports {used} ({layer_of(used)})"
        for module, used_set in modules.items()
        for used in used_set
        if used in RANK and RANK[used] > RANK[module]
    )


def layer_of(module: str) -> str:
    return list(LAYERS)[RANK[module]]


def package_modules() -> dict[str, set[str]]:
    return {path.stem: cryosse_imports(path) for path in sorted(PACKAGE.glob("*.py"))}


def test_every_module_has_a_layer() -> None:
    modules = set(package_modules())
    assert modules - set(RANK) == set(), "place the new module(s) in a layer"
    assert set(RANK) - modules == set(), "a layer names a module that no longer exists"


def test_no_module_imports_a_later_stage() -> None:
    assert upward_imports(package_modules()) == []


def test_a_wrong_import_is_caught(tmp_path: Path) -> None:
    """The check itself: ids (core) importing segment is reported."""
    wrong = tmp_path / "ids.py"
    wrong.write_text("from cryosse.segment import segment_map\nimport cryosse.report\n")
    found = upward_imports({"ids": cryosse_imports(wrong)})
    assert found == [
        "ids (core) imports report (report)",
        "ids (core) imports segment (segment)",
    ]


@pytest.mark.parametrize("layer", list(LAYERS))
def test_layers_are_disjoint(layer: str) -> None:
    others = set().union(*(m for name, m in LAYERS.items() if name != layer))
    assert LAYERS[layer].isdisjoint(others)
