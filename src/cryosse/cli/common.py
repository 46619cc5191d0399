"""What every command group of the command line shares: the subcommand with its example, the
config loader, one-line usage errors."""

from __future__ import annotations

import argparse
import errno
import math
import sys
import traceback
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "config/config.yaml"

# Exit codes (cryosse.cli.main's docstring and docs/segment.md list them for wrappers).
EXIT_BAD_INPUT = 1
EXIT_OUT_OF_RESOURCES = 2
EXIT_INTERNAL_ERROR = 3
# OSErrors that are the caller's input (a path that is missing, a folder, not allowed) rather
# than the machine's
INPUT_ERRNOS = {
    errno.ENOENT,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EACCES,
    errno.EPERM,
    errno.ENAMETOOLONG,
}
RESOURCE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.ENOMEM}


def os_error_exit(command: str, exc: OSError) -> int:
    """One line naming the path, and the exit code of its kind."""
    where = f": {exc.filename}" if exc.filename else ""
    what = exc.strerror or str(exc)
    if exc.errno in RESOURCE_ERRNOS:
        print(f"cryosse {command}: {what}{where}", file=sys.stderr)
        return EXIT_OUT_OF_RESOURCES
    if exc.errno in INPUT_ERRNOS:
        print(f"cryosse {command}: {what}{where}", file=sys.stderr)
        return EXIT_BAD_INPUT
    traceback.print_exc()
    print(f"cryosse {command}: I/O fault: {what}{where}", file=sys.stderr)
    return EXIT_INTERNAL_ERROR


def internal_error(command: str, exc: BaseException) -> int:
    traceback.print_exception(exc)
    print(
        f"cryosse {command}: internal error ({type(exc).__name__}: {exc}); please report it "
        "with the command line",
        file=sys.stderr,
    )
    return EXIT_INTERNAL_ERROR


class UsageError(Exception):
    """A mistake in how cryosse was called (a missing file, no entry list): one line, exit 1."""


class ExampleFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual but keeps the example's lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("example:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def subcommand(
    sub: argparse._SubParsersAction, name: str, example: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its example (one command line)."""
    return sub.add_parser(
        name, epilog=f"example:\n  {example}", formatter_class=ExampleFormatter, **kwargs
    )


def unit_interval(text: str) -> float:
    """An argparse type: a number in (0, 1] (NaN, inf, 2 and -1 are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]")
    return value


def load_config(path: str | None, fallback: str | None = None) -> dict:
    """A workflow config file, validated against the schema with its defaults filled in, as the
    Snakefile reads it (cryosse.core.config): a misspelt key stops here as it stops Snakemake.
    Without `path`, `fallback` (the project's config) when it exists, else every default:
    commands that need no config work outside the project folder too."""
    from cryosse.core.config import ConfigError
    from cryosse.core.config import load_config as load_checked

    if not path and fallback and Path(fallback).is_file():
        path = fallback
    try:
        return load_checked(path or None)
    except ConfigError as error:
        raise UsageError(str(error)) from None
