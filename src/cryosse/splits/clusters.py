"""Sequence clustering and identity search with the real MMseqs2.

Clustering: `mmseqs easy-cluster` at 35 % sequence identity (the paper's redundancy cut-off
between training and test) with coverage mode 0 and -c 0.5, i.e. an alignment must cover at
least half of BOTH sequences. A lower coverage would chain unrelated proteins through short
shared motifs; a higher one would let a domain shared by two longer chains escape. Splits are
then checked after the fact with `mmseqs easy-search` without any coverage filter (sensitivity
-s 7.5, E-value <= 1e-3), which finds any local similarity the clustering missed.

Identity is MMseqs2's `fident`: identical aligned pairs over the alignment length, 0-1.
Sequence names are sample ids, validated elsewhere, so they are safe in files and commands.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MIN_SEQ_ID = 0.35
COVERAGE = 0.5
COVERAGE_MODE = 0
SEARCH_SENSITIVITY = 7.5
SEARCH_EVALUE = 1e-3


class MmseqsError(RuntimeError):
    pass


def mmseqs_executable() -> str:
    path = shutil.which("mmseqs")
    if path is None:
        raise MmseqsError(
            "mmseqs (MMseqs2) not found on PATH: install it (apt-get install mmseqs2)"
        )
    return path


def mmseqs_version() -> str | None:
    try:
        done = subprocess.run(
            [mmseqs_executable(), "version"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (MmseqsError, OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def write_fasta(sequences: dict[str, str], path: str | Path) -> None:
    with open(path, "w", encoding="ascii") as handle:
        for name, sequence in sequences.items():
            handle.write(f">{name}\n{sequence}\n")


def read_fasta(path: str | Path) -> dict[str, str]:
    sequences: dict[str, str] = {}
    name = None
    for line in Path(path).read_text(encoding="ascii").splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            sequences[name] = ""
        elif name is not None:
            sequences[name] += line.strip()
    return sequences


def _run(arguments: list[str]) -> None:
    done = subprocess.run(
        [mmseqs_executable(), *arguments], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise MmseqsError(f"mmseqs {arguments[0]} failed ({done.returncode}): " + " | ".join(tail))


def cluster_sequences(
    sequences: dict[str, str],
    min_seq_id: float = MIN_SEQ_ID,
    coverage: float = COVERAGE,
    threads: int = 1,
) -> dict[str, str]:
    """Member -> representative, for every sequence (a singleton represents itself)."""
    if not sequences:
        return {}
    with tempfile.TemporaryDirectory(prefix="cryosse-mmseqs-") as work:
        fasta = Path(work) / "in.fasta"
        write_fasta(sequences, fasta)
        prefix = Path(work) / "clu"
        _run(
            [
                "easy-cluster",
                str(fasta),
                str(prefix),
                str(Path(work) / "tmp"),
                "--min-seq-id",
                f"{min_seq_id}",
                "-c",
                f"{coverage}",
                "--cov-mode",
                str(COVERAGE_MODE),
                "--threads",
                str(threads),
                "-v",
                "1",
            ]
        )
        members: dict[str, str] = {}
        for line in Path(f"{prefix}_cluster.tsv").read_text().splitlines():
            representative, member = line.split("\t")
            members[member] = representative
    missing = set(sequences) - set(members)
    if missing:
        raise MmseqsError(
            f"mmseqs left {len(missing)} sequence(s) unclustered: {sorted(missing)[:3]}"
        )
    return members


@dataclass(frozen=True)
class Hit:
    query: str
    target: str
    identity: float
    alignment_length: int
    evalue: float


def search_hits(queries: dict[str, str], targets: dict[str, str], threads: int = 1) -> list[Hit]:
    """Every alignment MMseqs2 finds between queries and targets (no coverage filter)."""
    if not queries or not targets:
        return []
    with tempfile.TemporaryDirectory(prefix="cryosse-mmseqs-") as work:
        query_fasta, target_fasta = Path(work) / "q.fasta", Path(work) / "t.fasta"
        write_fasta(queries, query_fasta)
        write_fasta(targets, target_fasta)
        out = Path(work) / "hits.m8"
        _run(
            [
                "easy-search",
                str(query_fasta),
                str(target_fasta),
                str(out),
                str(Path(work) / "tmp"),
                "-s",
                f"{SEARCH_SENSITIVITY}",
                "-e",
                f"{SEARCH_EVALUE}",
                "--format-output",
                "query,target,fident,alnlen,evalue",
                "--threads",
                str(threads),
                "-v",
                "1",
            ]
        )
        hits = []
        for line in out.read_text().splitlines():
            query, target, fident, alnlen, evalue = line.split("\t")
            hits.append(Hit(query, target, float(fident), int(alnlen), float(evalue)))
    return hits


def similar_pairs(
    sequences: dict[str, str], min_identity: float = MIN_SEQ_ID, threads: int = 1
) -> list[tuple[str, str]]:
    """Pairs of different sequences that an all-against-all search aligns at >= min_identity.

    Clusters alone do not separate splits: greedy set-cover clustering can put two chains that
    are 38 % identical (α and β globin of one species, say) under different representatives.
    Splits therefore also keep every such pair together."""
    pairs = {
        tuple(sorted((hit.query, hit.target)))
        for hit in search_hits(sequences, sequences, threads=threads)
        if hit.query != hit.target and hit.identity >= min_identity
    }
    return sorted(pairs)  # type: ignore[arg-type]


def max_identity(hits: list[Hit]) -> Hit | None:
    """The hit with the highest identity (None when there is none)."""
    return max(hits, key=lambda h: (h.identity, h.alignment_length), default=None)
