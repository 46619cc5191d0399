"""The `cryosse` command line.

    cryosse curate EMD-8518 EMD-6149 --mirror demo/mirror --out results/mine [--config c.yaml]
    cryosse summary results/demo/curation_log.tsv
    cryosse version

`curate` runs the same package functions as the Snakemake rules, for a few entries without
Snakemake; the workflow is the way to curate a data set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from tqdm import tqdm

from cryosse import __version__
from cryosse.dataset import (
    gather,
    run_curate,
    run_locate,
    settings_section,
    split_entry_ids,
    summarize_log,
)
from cryosse.dssp import mkdssp_version


def _curate(args: argparse.Namespace) -> int:
    config = {}
    if args.config:
        config = yaml.safe_load(Path(args.config).read_text()) or {}
    settings = settings_section(config)
    out = Path(args.out)
    valid, invalid = split_entry_ids(args.entries)
    for emdb in tqdm(valid, desc="curating", unit="entry", disable=not sys.stderr.isatty()):
        run_locate(emdb, args.mirror, settings, out / "located" / f"{emdb}.json")
        run_curate(out / "located" / f"{emdb}.json", settings, out / "entries" / emdb)
    gather([out / "entries" / e for e in valid], invalid, out / "curation_log.tsv",
           out / "manifest.tsv")  # fmt: skip
    print(summarize_log(out / "curation_log.tsv"))
    print(f"curation log: {out / 'curation_log.tsv'}\nmanifest:     {out / 'manifest.tsv'}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    print(summarize_log(args.log))
    return 0


def _version(_: argparse.Namespace) -> int:
    print(f"cryosse {__version__}; {mkdssp_version() or 'mkdssp not found'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cryosse", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    curate = sub.add_parser("curate", help="curate entries of a local mirror into samples")
    curate.add_argument("entries", nargs="+", help="EMDB ids, e.g. EMD-8518")
    curate.add_argument("--mirror", required=True, help="local EMDB/PDB mirror")
    curate.add_argument("--out", required=True, help="output folder")
    curate.add_argument("--config", help="YAML with resolution/chains/fit/crop/labels settings")
    curate.set_defaults(func=_curate)
    summary = sub.add_parser("summary", help="counts per reason in a curation log")
    summary.add_argument("log")
    summary.set_defaults(func=_summary)
    sub.add_parser("version", help="versions of cryosse and mkdssp").set_defaults(func=_version)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
