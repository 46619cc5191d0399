"""The project's one sha256 helper: of bytes in memory, or of a file read in 1 MiB blocks."""

from __future__ import annotations

import hashlib
import os

_BLOCK = 1 << 20  # maps are hundreds of MB: hash them without loading them whole


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file at `path`, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
