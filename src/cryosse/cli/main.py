"""The `cryosse` command line.

    cryosse search [--config config/config.yaml] [--entries config/entries.tsv] [--method helical]
    cryosse add EMD-1234 EMD-5678 [--entries config/entries.tsv]
    cryosse fetch [--config config/config.yaml] [EMD-1234 ...]
    cryosse estimate [--config config/config.yaml] [--entries N --map-mb MB] [--samples N]
        [--step-ms MS --step-size 112 --gpu-name NAME]
    cryosse curate EMD-8518 EMD-6149 --mirror demo/mirror --out results/mine [--config c.yaml]
    cryosse evaluate --pred-helix H.mrc --pred-sheet S.mrc --map M.map.gz --structure C.cif
        (the tool's rows, then the same samples scored by the baselines of
        cryosse.evaluate.baselines)
    cryosse summary results/demo/curation_log.tsv
    cryosse simulate STRUCTURES_DIR --mirror results/offline/mirror [--jobs 2]
    cryosse derive --realdata realdata/ --mirror results/offline/mirror
    cryosse offline-mirror --structures DIR --realdata DIR --mirror results/offline/mirror
    cryosse segment MAP [--model CKPT] [--out DIR] [--resolution Å] [--box i1 j1 k1 i2 j2 k2]
    cryosse ship-model results/offline [--loss FL_DL] [--package src/cryosse]
    cryosse version    (cryosse --version: cryosse's alone)

`search` appends the entries an EMDB search finds to the entry list, `add` appends entries by
hand; neither changes a row that exists. `fetch` downloads (into the archive cache) what the
workflow will need. `curate` runs the same package functions as the Snakemake rules, for a few
entries without Snakemake; the workflow is the way to curate a data set.

Exit codes, for wrappers (Snakemake, Scipion, CCP-EM) to act on:
    0  done
    1  bad input: a file, option, id or config that cannot be used (the line says which)
    2  out of resources: memory (or the memory budget), or no space left on the disk
    3  internal error: a bug or a fault of the machine (I/O error); the traceback is printed
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from cryosse import __version__
from cryosse.cli import dataset, evaluate, planning, segment, segmentation, synthetic
from cryosse.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OUT_OF_RESOURCES,
    UsageError,
    internal_error,
    os_error_exit,
    subcommand,
)
from cryosse.core.reasons import DataError, Reason
from cryosse.curate.dssp import mkdssp_version
from cryosse.io.entries import EntryListError

COMMAND_GROUPS = (dataset, planning, synthetic, segment, evaluate, segmentation)


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; here 2 means out of resources, so usage errors exit 1
    (bad input) like every other refusal."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def version(_: argparse.Namespace) -> int:
    print(f"cryosse {__version__}; {mkdssp_version() or 'mkdssp not found'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cryosse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"cryosse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_parsers(sub)
    help_text = "versions of cryosse and mkdssp"
    subcommand(sub, "version", "cryosse version", help=help_text).set_defaults(func=version)
    return parser


# Modules of the `pipeline` extra (pyproject): a subcommand that needs one says how to get it.
PIPELINE_MODULES = {
    "snakemake",
    "pandas",
    "Bio",
    "requests",
    "urllib3",
    "jsonschema",
    "yaml",
    "matplotlib",
}


# External programs a subcommand runs (cryosse.workflow.toolchain), checked before it starts any
# work.
NEEDS_TOOLS = {"curate": ("mkdssp",), "evaluate": ("mkdssp",)}

# Errors whose message is the one line to print (exit 1), by the module that defines each. A
# module is looked up only once loaded: a command that never imported it cannot have raised
# its error, and the core install's commands import no torch.
ONE_LINE_ERRORS = {
    "cryosse.segment.errors": "SegmentError",
    "cryosse.learn.checkpoint": "CheckpointError",
    "cryosse.core.output_folder": "FolderError",
    "cryosse.acquire.archive": "ArchiveConfigError",  # the config's doing
}
# What to try after running out of memory, per command
OUT_OF_MEMORY_HINTS = {"segment": "pass a smaller --max-memory or --tile-size, or a --box"}


def _is_one_line_error(exc: Exception) -> bool:
    return any(
        isinstance(exc, getattr(sys.modules[module], name))
        for module, name in ONE_LINE_ERRORS.items()
        if module in sys.modules
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in NEEDS_TOOLS:
        from cryosse.workflow.toolchain import ToolchainError, check_toolchain

        try:
            check_toolchain(NEEDS_TOOLS[args.command])
        except ToolchainError as exc:
            print(f"cryosse {args.command}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except (UsageError, EntryListError) as exc:
        print(f"cryosse {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DataError as exc:  # a map or model refused (cryosse segment)
        print(f"cryosse {args.command}: {exc.message}", file=sys.stderr)
        # a map whose grid does not fit the memory budget is a resource limit, not bad input
        return EXIT_OUT_OF_RESOURCES if exc.reason == Reason.MAP_TOO_LARGE else EXIT_BAD_INPUT
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in PIPELINE_MODULES:
            return internal_error(args.command, exc)
        print(
            f"cryosse {args.command}: needs the pipeline extra (no module {exc.name!r}): "
            "pip install 'cryosse[pipeline]'",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except MemoryError:
        hint = OUT_OF_MEMORY_HINTS.get(args.command)
        print(
            f"cryosse {args.command}: out of memory{f': {hint}' if hint else ''}", file=sys.stderr
        )
        return EXIT_OUT_OF_RESOURCES
    except OSError as exc:
        return os_error_exit(args.command, exc)
    except Exception as exc:  # a bug: the traceback for the report, then one line
        if _is_one_line_error(exc):
            print(f"cryosse {args.command}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return internal_error(args.command, exc)


if __name__ == "__main__":  # python -m cryosse.cli.main
    sys.exit(main())
