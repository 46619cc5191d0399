"""Synthetic data commands: simulated maps, derived (low-passed) maps, the offline mirror."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cryosse.cli.common import UsageError, subcommand
from cryosse.core.ids import DERIVED_IDS, SIMULATED_IDS

# The profile names (cryosse.synthetic.parameters.PROFILES), typed here so that the parser does not
# import numpy and scipy; tests/synthetic checks that the two agree.
PROFILE_NAMES = ("v1", "voxels", "solvent", "masks", "assembly", "nucleic", "emdb")
EXAMPLES = {
    "simulate": "cryosse simulate structures/ --mirror results/offline/mirror --jobs 2",
    "derive": "cryosse derive --realdata realdata/ --mirror results/offline/mirror",
    "offline-mirror": "cryosse offline-mirror --structures structures/ --realdata realdata/ "
    "--mirror results/offline/mirror --jobs 2",
}


def _structure_files(paths: list[str]) -> list[Path]:
    """Structure files from files and folders (*.pdb, *.cif, optionally gzipped)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            suffixes = (".pdb", ".cif", ".pdb.gz", ".cif.gz", ".ent.gz")
            found += [p for p in sorted(path.iterdir()) if p.name.endswith(suffixes)]
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"cryosse: {raw}: no such file or folder")
    if not found:
        raise SystemExit("cryosse: no structure file (.pdb/.cif, optionally .gz) given")
    return found


def _require_folders(*folders: str) -> None:
    for folder in folders:
        if not Path(folder).is_dir():
            raise UsageError(f"{folder}: not a folder")


def _simulation_options(args: argparse.Namespace) -> dict[str, Any]:
    """What `simulate` and `offline-mirror` pass on to `simulate_structures` alike."""
    return {
        "maps_per_structure": args.maps_per_structure,
        "seed": args.seed,
        "jobs": args.jobs,
        "progress": sys.stderr.isatty(),
        "profile": args.profile,
    }


def simulate_command(args: argparse.Namespace) -> int:
    """Simulated medium-resolution maps of atomic models, as mirror entries."""
    from cryosse.synthetic.batch import simulate_structures

    models = _structure_files(args.structures)[: args.limit or None]
    try:
        rows = simulate_structures(
            models, Path(args.mirror), first_id=args.first_id, **_simulation_options(args)
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for row in rows:
        if row["status"] != "written":
            print(f"skipped {row['source']}: {row['reason']}", file=sys.stderr)
    written = sum(row["status"] == "written" for row in rows)
    print(
        f"simulated {written} maps, skipped {len(rows) - written}; "
        f"summary: {Path(args.mirror) / 'simulated.tsv'}"
    )
    return 0 if written else 1


def derive_command(args: argparse.Namespace) -> int:
    """Low-passed medium-resolution versions of the high-resolution real pairs."""
    from cryosse.synthetic.derive import derive_pairs

    _require_folders(args.realdata)
    try:
        rows = derive_pairs(
            Path(args.realdata),
            Path(args.mirror),
            first_id=args.first_id,
            maps_per_pair=args.maps_per_pair,
            seed=args.seed,
            exclude=tuple(args.exclude),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for row in rows:
        state = row["reason"] or f"{row['target_resolution']} Å, Butterworth low-pass"
        print(f"{row['emdb_id']} <- {row['source_emdb_id']}: {row['status']} ({state})")
    return 0 if any(row["status"] == "written" for row in rows) else 1


def offline_mirror_command(args: argparse.Namespace) -> int:
    """The offline training mirror: simulated + derived + the real evaluation pairs."""
    from cryosse.synthetic.offline import build_offline_mirror

    _require_folders(args.structures, args.realdata)
    try:
        ids = build_offline_mirror(
            structures=Path(args.structures),
            realdata=Path(args.realdata),
            mirror_root=Path(args.mirror),
            n_structures=args.n_structures,
            derived_per_pair=args.derived_per_pair,
            **_simulation_options(args),
        )
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    for origin, entries in ids.items():
        print(f"{origin}: {len(entries)} entries")
    print(f"entry list: {Path(args.mirror) / 'entries.tsv'}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    simulate = subcommand(
        sub, "simulate", EXAMPLES["simulate"], help="simulated 5-10 Å maps of atomic models"
    )
    simulate.add_argument("structures", nargs="+", help="model files or folders (.pdb/.cif[.gz])")
    simulate.add_argument("--mirror", required=True, help="mirror root to write entries into")
    simulate.add_argument(
        "--first-id",
        type=int,
        default=SIMULATED_IDS[0],
        help=f"first EMD number ({SIMULATED_IDS[0]})",
    )
    simulate.add_argument("--maps-per-structure", type=int, default=1, help="maps per model")
    simulate.add_argument("--limit", type=int, help="only the first N models (sorted by name)")
    simulate.add_argument("--seed", type=int, default=1, help="seed of every map's parameters")
    simulate.add_argument("--jobs", type=int, default=1, help="processes")
    simulate.add_argument(
        "--profile",
        default="v1",
        choices=sorted(PROFILE_NAMES),
        help="v1: the shipped model's maps; emdb: assemblies, solvent, masks, nucleic acids",
    )
    simulate.set_defaults(func=simulate_command)
    derive = subcommand(
        sub, "derive", EXAMPLES["derive"], help="low-pass the high-resolution real pairs to 5-10 Å"
    )
    derive.add_argument("--realdata", required=True, help="realdata folder (provenance.json)")
    derive.add_argument("--mirror", required=True, help="mirror root to write entries into")
    derive.add_argument(
        "--first-id", type=int, default=DERIVED_IDS[0], help=f"first EMD number ({DERIVED_IDS[0]})"
    )
    derive.add_argument("--maps-per-pair", type=int, default=1, help="target resolutions per pair")
    derive.add_argument("--seed", type=int, default=1, help="seed of the target resolutions")
    derive.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="EMDB_ID",
        help="pairs not to derive from (held-out test maps: offline-mirror excludes EMD-0093 and "
        "EMD-3488)",
    )
    derive.set_defaults(func=derive_command)
    offline_help = "simulated + derived + real evaluation mirror"
    offline = subcommand(sub, "offline-mirror", EXAMPLES["offline-mirror"], help=offline_help)
    offline.add_argument("--structures", required=True, help="folder of atomic models")
    offline.add_argument("--realdata", required=True, help="realdata folder")
    offline.add_argument("--mirror", required=True, help="mirror root to write")
    offline.add_argument("--n-structures", type=int, help="first N models only (default: all)")
    offline.add_argument(
        "--maps-per-structure", type=int, default=2, help="maps per model, spread over 5-10 Å"
    )
    offline.add_argument("--profile", default="emdb", choices=sorted(PROFILE_NAMES))
    for flag, default, help_text in (
        ("--derived-per-pair", 2, None),
        ("--seed", 1, None),
        ("--jobs", 1, "simulation processes"),
    ):
        offline.add_argument(flag, type=int, default=default, help=help_text)
    offline.set_defaults(func=offline_mirror_command)
