"""The external programs the pipeline runs, checked before any work starts.

Curation runs `mkdssp` (DSSP 4.x: dssp.py) and the splits run `mmseqs` (MMseqs2: clusters.py).
Without them every entry would be excluded as `dssp_failed`, or the splits would fail after
curation; `check_toolchain` says so at once, in one line that names what is missing or too old
and how to install it:

    >>> check_toolchain()                      # doctest: +SKIP
    ToolchainError: cryosse needs mkdssp (DSSP 4.x): not found on PATH. Install it with
    `apt-get install dssp` or `conda install -c conda-forge -c bioconda dssp`

The Snakefile's `onstart:` calls it (the workflow stops before its first job); the versions
themselves come from `cryosse.curate.dssp.mkdssp_version` and
`cryosse.splits.clusters.mmseqs_version`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable

from cryosse.curate.dssp import mkdssp_version
from cryosse.splits.clusters import MmseqsError, mmseqs_executable, mmseqs_version

# tool -> (what it is, the Debian/conda package that provides it)
TOOLS = {"mkdssp": ("DSSP 4.x", "dssp"), "mmseqs": ("MMseqs2", "mmseqs2")}
MKDSSP_MAJOR = 4


class ToolchainError(RuntimeError):
    """A required program is missing, too old or broken; str() is one line with the fix."""


def check_toolchain(tools: Iterable[str] = ("mkdssp", "mmseqs")) -> None:
    """Raise ToolchainError unless every tool in `tools` is on PATH and usable: mkdssp must
    report version 4.x, mmseqs must answer `mmseqs version`."""
    problems: list[str] = []
    packages: list[str] = []
    for tool in dict.fromkeys(tools):
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r} (known: {', '.join(TOOLS)})")
        problem = _mkdssp_problem() if tool == "mkdssp" else _mmseqs_problem()
        if problem:
            what, package = TOOLS[tool]
            problems.append(f"{tool} ({what}): {problem}")
            packages.append(package)
    if problems:
        names = " ".join(packages)
        raise ToolchainError(
            f"cryosse needs {'; '.join(problems)}. Install {'it' if len(packages) == 1 else 'them'}"
            f" with `apt-get install {names}` or `conda install -c conda-forge -c bioconda {names}`"
        )


def _mkdssp_problem() -> str | None:
    path = shutil.which("mkdssp")
    if path is None:
        return "not found on PATH"
    try:
        version = mkdssp_version(path)
    except OSError as exc:
        return f"{path} cannot be run ({exc.strerror or exc})"
    if version is None:
        return f"{path} printed no version for `mkdssp --version`"
    match = re.search(r"(\d+)(?:\.\d+)+", version)
    if match is None:
        return f"{path} printed {version!r} for `mkdssp --version`, not a version number"
    if int(match.group(1)) != MKDSSP_MAJOR:
        return f"{path} is version {match.group(0)}, {MKDSSP_MAJOR}.x is needed"
    return None


def _mmseqs_problem() -> str | None:
    try:
        path = mmseqs_executable()
    except MmseqsError:
        return "not found on PATH"
    if mmseqs_version() is None:
        return f"{path} does not run (`mmseqs version` failed or printed nothing)"
    return None
