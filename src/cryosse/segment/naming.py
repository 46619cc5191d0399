"""The names of `cryosse segment`'s outputs, and the refusal of a map whose outputs could not be
named."""

from __future__ import annotations

import os
from pathlib import Path

from cryosse.segment.errors import SegmentError

OUTPUT_KINDS = ("helix_prob", "sheet_prob", "helix_mask", "sheet_mask", "labels")
# The longest file name segment_map writes after the map's stem (NAME_MAX is 255 bytes).
_LONGEST_SUFFIX = max(
    [len(f"_{kind}.mrc") for kind in OUTPUT_KINDS] + [len("_residues_columns.txt")]
)
NAME_MAX = 255
_ATOMIC_EXTRA = len(".tmp-") + len(".") + 8


def map_stem(path: str | os.PathLike[str]) -> str:
    """The map's file name without .gz/.mrc/.map/.ccp4: the outputs' prefix."""
    name = Path(path).name
    for suffix in (".gz", ".mrc", ".map", ".ccp4"):
        name = name.removesuffix(suffix)
    return name or "map"


def output_names(stem: str) -> dict[str, str]:
    """File name of each output of a map named `stem` (map_stem)."""
    return {kind: f"{stem}_{kind}.mrc" for kind in OUTPUT_KINDS}


def check_names(
    map_path: str | Path, out_dir: str | Path | None, structure: str | Path | None = None
) -> None:
    """Refuse, before any work, a map whose outputs could not be named: a control character
    (a newline in the name would start a new command in the .cxc: issue 26) or a stem too long
    for the file system once the longest suffix is added (a 230-character name failed only
    after the whole prediction)."""
    named = (("map path", map_path), ("--out", out_dir or ""), ("--structure", structure or ""))
    for label, path in named:
        value = str(path)
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise SegmentError(
                f"the {label} {value!r} holds a control character (newline, tab, ...): rename it"
            )
        if '"' in value and label != "--out":  # the .pml cannot quote it
            raise SegmentError(f"the {label} {value!r} holds a double quote: rename it")
    stem = map_stem(map_path)
    # + the temporary name each file is first written under (cryosse.core.atomic.atomic_path:
    # ".tmp-<name>." and 8 random characters)
    longest = len(stem.encode()) + _LONGEST_SUFFIX + _ATOMIC_EXTRA
    if longest > NAME_MAX:
        raise SegmentError(
            f"the map's name ({len(stem.encode())} bytes without its extension) is too long "
            f"for its outputs: with the longest suffix and the temporary name they need "
            f"{longest} bytes, the file system allows {NAME_MAX}; rename or link the map to a "
            f"name of at most {NAME_MAX - _LONGEST_SUFFIX - _ATOMIC_EXTRA} bytes"
        )
