"""The split report: cases per split and quality bin, residue class fractions, and the leakage
check — the highest sequence identity MMseqs2 finds between each evaluation set and its
training set (after the fact, with `mmseqs easy-search`, no coverage filter).

With `splits.test_chains` (e.g. the paper's Table 2), it also says which listed cases the run
has: present (a sample of the manifest), pinned (in the test split) or absent, and why a case
is absent when the curation log knows (the chain's, model's or entry's exclusion reason; not in
the entry list; no such chain or model in the entry).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cryosse.core.atomic import write_text_atomic
from cryosse.core.ids import is_valid_pdb_id, normalize_pdb_id
from cryosse.core.tsv import write_tsv
from cryosse.io.curation_log import LogRow
from cryosse.splits.clusters import MIN_SEQ_ID, max_identity, search_hits
from cryosse.splits.published import PublishedCase

REPORT_COLUMNS = [
    "scheme",
    "split",
    "cases",
    "bin_1",
    "bin_2",
    "bin_3",
    "helix_residue_fraction",
    "sheet_residue_fraction",
    "background_residue_fraction",
    "max_identity_to_train",
    "closest_train_pair",
]


@dataclass(frozen=True)
class CaseFacts:
    sample_id: str
    quality_bin: int
    helix_residues: int
    sheet_residues: int
    background_residues: int


def _row(scheme: str, split: str, ids: list[str], facts: dict[str, CaseFacts]) -> dict:
    chosen = [facts[s] for s in ids]
    residues = sum(f.helix_residues + f.sheet_residues + f.background_residues for f in chosen)

    def fraction(count: int) -> str:
        return f"{count / residues:.3f}" if residues else "NA"

    return {
        "scheme": scheme,
        "split": split,
        "cases": len(chosen),
        **{f"bin_{b}": sum(1 for f in chosen if f.quality_bin == b) for b in (1, 2, 3)},
        "helix_residue_fraction": fraction(sum(f.helix_residues for f in chosen)),
        "sheet_residue_fraction": fraction(sum(f.sheet_residues for f in chosen)),
        "background_residue_fraction": fraction(sum(f.background_residues for f in chosen)),
        "max_identity_to_train": "",
        "closest_train_pair": "",
    }


def _leakage(
    row: dict, evaluated: list[str], train: list[str], sequences: dict[str, str], threads: int
) -> None:
    # Held-out cases tie training to evaluation groups by construction: not evaluated, no leak.
    if row["split"] in ("train", "held_out") or not evaluated or not train:
        row["max_identity_to_train"] = "NA"
        return
    hits = search_hits(
        {s: sequences[s] for s in evaluated}, {s: sequences[s] for s in train}, threads=threads
    )
    best = max_identity(hits)
    if best is None:
        row["max_identity_to_train"] = "none found"
        return
    row["max_identity_to_train"] = f"{best.identity:.3f}"
    row["closest_train_pair"] = f"{best.query}~{best.target} ({best.alignment_length} aa)"


def build_report(
    facts: dict[str, CaseFacts],
    sequences: dict[str, str],
    main: dict[str, str],
    cv: dict[str, list[str]],
    threads: int = 1,
) -> list[dict]:
    rows = []
    schemes = [("main", main)] + [
        (f"fold_{k + 1}", {sid: roles[k] for sid, roles in cv.items()})
        for k in range(len(next(iter(cv.values()), [])))
    ]
    for scheme, assignment in schemes:
        train = sorted(s for s, split in assignment.items() if split == "train")
        for split in ("train", "validation", "test", "held_out"):
            ids = sorted(s for s, value in assignment.items() if value == split)
            if split == "held_out" and not ids:
                continue
            row = _row(scheme, split, ids, facts)
            _leakage(row, ids, train, sequences, threads)
            rows.append(row)
    return rows


def _absence(case: PublishedCase, log: list[LogRow]) -> tuple[str, str]:
    """(reason code, sentence) for a listed case that is not a sample of the run."""

    def pdb(row: LogRow) -> str:
        return normalize_pdb_id(row.pdb_id) if is_valid_pdb_id(row.pdb_id) else row.pdb_id

    rows = [r for r in log if r.emdb_id == case.emdb_id]
    chain = [r for r in rows if r.level == "chain" and pdb(r) == case.pdb_id]
    chain = [r for r in chain if r.chain == case.chain]
    model = [r for r in rows if r.level == "model" and pdb(r) == case.pdb_id]
    entry = [r for r in rows if r.level == "entry"]
    for found in (chain, model, entry):
        excluded = [r for r in found if r.status == "excluded"]
        if excluded:
            return excluded[0].reason, f"{excluded[0].reason}: {excluded[0].message}"
    if chain:
        return "not_in_manifest", "curated and kept, but not in the manifest"
    if not entry:
        return "not_in_entry_list", "the entry is not in this run's entry list"
    if any(pdb(r) == case.pdb_id for r in rows):
        return "no_such_chain", f"model {case.pdb_id} has no chain {case.chain} curated"
    return "model_not_curated", f"model {case.pdb_id} is not among the entry's curated models"


def test_chain_status(
    cases: list[PublishedCase], main: dict[str, str], log: list[LogRow]
) -> list[dict[str, str]]:
    """Per listed case: `pinned` (a sample in test), `present` (a sample in another split:
    only a ledger older than the option can do that), or `absent` with the reason."""
    rows = []
    for case in cases:
        sid = case.sample_id
        if sid in main:
            status = "pinned" if main[sid] == "test" else "present"
            reason, why = ("", "") if status == "pinned" else (main[sid], f"in {main[sid]}")
        else:
            status = "absent"
            reason, why = _absence(case, log)
        rows.append(
            {"case": case.label, "sample_id": sid, "status": status, "reason": reason, "why": why}
        )
    return rows


def render_test_chains(source: str, rows: list[dict[str, str]]) -> str:
    counts = Counter(r["status"] for r in rows)
    present = counts["pinned"] + counts["present"]
    reasons = Counter(r["reason"] for r in rows if r["status"] == "absent")
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    lines = [
        "",
        f"## Test chains ({source})",
        "",
        f"{len(rows)} listed: {present} present in this run, {counts['pinned']} pinned to test, "
        f"{counts['absent']} absent" + (f" ({why})" if why else "") + ".",
        "",
        "| case | sample | status | why |",
        "|---|---|---|---|",
    ]
    for r in rows:
        why = r["why"].replace("|", "\\|")
        lines.append(f"| {r['case']} | {r['sample_id']} | {r['status']} | {why} |")
    return "\n".join(lines) + "\n"


def write_report(
    rows: list[dict],
    tsv: str | Path,
    markdown: str | Path,
    bins: dict[str, int] | None = None,
    test_chains: tuple[str, list[dict[str, str]]] | None = None,
) -> None:
    """The report as TSV and Markdown; `test_chains` = (table, test_chain_status rows) adds
    its section to the Markdown."""
    write_tsv(tsv, REPORT_COLUMNS, rows)
    text = render_markdown(rows, bins)
    if test_chains is not None:
        text += render_test_chains(*test_chains)
    write_text_atomic(markdown, text)


def leaks(rows: list[dict]) -> list[dict]:
    """Report rows whose evaluation set has a training case at >= 35 % identity."""
    found = []
    for row in rows:
        try:
            if float(row["max_identity_to_train"]) >= MIN_SEQ_ID:
                found.append(row)
        except ValueError:
            continue
    return found


def render_markdown(rows: list[dict], bins: dict[str, int] | None = None) -> str:
    lines = ["# Split report", ""]
    if bins:
        lines += [
            "Quality-bin populations (chains): "
            + ", ".join(f"{name} {count}" for name, count in bins.items()),
            "",
        ]
    lines += [
        "Cases per split and quality bin, residue class fractions (residues in the central",
        "boxes; the paper's dataset: 37 % helix, 13 % sheet), and the highest identity MMseqs2",
        "finds between each evaluation set and its training set (must stay below 0.35).",
        "",
        "| scheme | split | cases | bin 1 | bin 2 | bin 3 | helix | sheet | background "
        "| max identity to train |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scheme']} | {r['split']} | {r['cases']} | {r['bin_1']} | {r['bin_2']} "
            f"| {r['bin_3']} | {r['helix_residue_fraction']} | {r['sheet_residue_fraction']} "
            f"| {r['background_residue_fraction']} | {r['max_identity_to_train']} |"
        )
    found = leaks(rows)
    lines += [
        "",
        f"Leakage (identity >= {MIN_SEQ_ID}): "
        + (
            ", ".join(f"{r['scheme']}/{r['split']} {r['closest_train_pair']}" for r in found)
            if found
            else "none found."
        ),
    ]
    return "\n".join(lines) + "\n"
