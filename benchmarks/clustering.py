"""Benchmark: MMseqs2 clustering and the all-against-all similar-pair search behind the splits.

Reads every protein chain of >= 30 residues from the real structures in ../shared/structures
(in place), then times, on growing subsets: `mmseqs easy-cluster` at 35 % (cryosse.splits.clusters
settings) and the all-against-all `easy-search` that adds pairs >= 35 % identity. Prints the
seconds, the number of clusters and of similar pairs, and how many similar pairs the clusters
alone would have separated (the reason the search is there).

    .venv/bin/python -m benchmarks.clustering [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from cryosse.io.structure import protein_residues, read_model
from cryosse.splits.clusters import cluster_sequences, mmseqs_version, similar_pairs

STRUCTURES = Path(__file__).resolve().parents[2] / "shared" / "structures"


def load_sequences(min_length: int = 30) -> dict[str, str]:
    sequences: dict[str, str] = {}
    for path in sorted(STRUCTURES.glob("*.gz")):
        try:
            residues = protein_residues(read_model(path))
        except Exception:  # a structure gemmi cannot read is skipped, not fatal here
            continue
        chains: dict[str, str] = {}
        for residue in residues:
            chains[residue.chain] = chains.get(residue.chain, "") + residue.one_letter
        stem = path.name.split(".")[0]
        sequences.update({f"{stem}_{c}": s for c, s in chains.items() if len(s) >= min_length})
    return sequences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"MMseqs2 {mmseqs_version()}; threads {args.threads}"
    )
    start = time.perf_counter()
    sequences = load_sequences()
    print(f"read {len(sequences)} chains in {time.perf_counter() - start:.1f} s")
    names = list(sequences)
    print(
        f"{'chains':>7} {'cluster s':>10} {'clusters':>9} {'search s':>9} {'pairs':>6} "
        f"{'split by clusters':>18}"
    )
    for n in (100, 300, len(names)):
        subset = {k: sequences[k] for k in names[:n]}
        t0 = time.perf_counter()
        members = cluster_sequences(subset, threads=args.threads)
        t1 = time.perf_counter()
        pairs = similar_pairs(subset, threads=args.threads)
        t2 = time.perf_counter()
        separated = sum(1 for a, b in pairs if members[a] != members[b])
        print(
            f"{n:>7} {t1 - t0:>10.2f} {len(set(members.values())):>9} {t2 - t1:>9.2f} "
            f"{len(pairs):>6} {separated:>18}"
        )


if __name__ == "__main__":
    main()
