"""The class ids, names and the DSSP rule live in cryosse.core.classes alone."""

from __future__ import annotations

import ast

from cryosse.core.classes import (
    BACKGROUND,
    CLASS_IDS,
    CLASS_NAMES,
    HELIX,
    N_CLASSES,
    SCORED_CLASSES,
    SHEET,
    SHORT_NAMES,
    code_to_class,
)
from cryosse.learn.checkpoint import CLASSES
from tests.conftest import REPO

DEFINED_ONCE = {"BACKGROUND", "HELIX", "SHEET", "CLASS_NAMES", "CLASS_IDS", "N_CLASSES"}


def test_ids_names_and_channels_agree() -> None:
    assert (BACKGROUND, HELIX, SHEET) == (0, 1, 2) and N_CLASSES == 3
    assert CLASSES == ["background", "helix", "sheet"]  # checkpoint channel order = ids
    assert all(CLASS_IDS[CLASS_NAMES[cls]] == cls for cls in CLASS_NAMES)
    assert SCORED_CLASSES == ("helix", "sheet") and set(SHORT_NAMES) == set(CLASS_NAMES)


def test_dssp_rule_is_the_papers() -> None:
    classes = {code: code_to_class(code) for code in "HGIBETSP -"}
    assert {c for c, k in classes.items() if k == HELIX} == set("HGI")
    assert {c for c, k in classes.items() if k == SHEET} == set("BE")
    assert {c for c, k in classes.items() if k == BACKGROUND} == set("TSP -")


def test_no_other_module_defines_the_class_ids() -> None:
    offenders = []
    for path in sorted((REPO / "src" / "cryosse").rglob("*.py")):
        if path.name == "classes.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            names = set()
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                names |= {e.id for e in elements if isinstance(e, ast.Name)}
            if names & DEFINED_ONCE:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
