"""Train / validation / test splits that never leak and never move, plus cross-validation folds.

Cases are samples (one central chain of one entry). Cases are tied together into **groups**: two
cases share a group when they share an MMseqs2 cluster (>= 35 % identity), when an
all-against-all MMseqs2 search aligns them at >= 35 % identity (clusters alone can separate
such pairs), or when they come from the same EMDB entry (their boxes can hold the same
density). A group is never split across train and validation/test.

**Main split** — the assignment is an append-only ledger (TSV: sample_id, split, quality_bin,
cluster, batch). Each run:
1. a case already in the ledger keeps its row, byte for byte;
2. a new case in a group whose ledger cases all sit in one split joins that split (so a new
   entry similar to a test/validation cluster never lands in training); if the group's ledger
   cases sit in several splits (the new case bridges them), it is `held_out` and used nowhere;
3. groups made only of new cases are dealt out in a seeded order (sha256 of seed + group), each
   to the split most below its target share within the group's quality-bin stratum;
   validation/test take only groups of at most `max_eval_group_size` cases, so evaluation
   covers many distinct proteins.
The targets are the paper's proportions, 1246 / 47 / 62 of 1355 (configurable).

**Evaluation entries** (`evaluation_entries`, e.g. the real maps of an offline run trained on
simulated data) are pinned: every case of such an entry goes to `test`, and every other case
that groups with one of them (same cluster or an all-against-all hit at >= 35 %) is
`held_out`, so an evaluation protein and its homologues are never trained on or validated
with. Pinned groups are dealt before any other and do not count towards the proportions. A
ledger row that contradicts the pinning (an evaluation case outside test, a homologue in
train/validation) is an error, not a silent move. In the CV folds evaluation cases are
`held_out` in every fold: they are scored by the main split only.

**Test chains** (`test_chains`, sample ids read from a test-chain table such as the paper's
Table 2, `config/paper_test_set.tsv`; see cryosse.splits.published) are pinned by the same rules,
one
chain at a time: a listed sample goes to `test`, every other case of its group — the entry's
other chains, their cluster members and search hits — is `held_out`.

**Cross-validation** — `n_folds` test sets that do not overlap, drawn from groups of fewer than
four cases (the paper's rule) outside the main validation set, in the same seeded order, each
of about the main test set's share. Fold k: test = fold k, validation = the main validation
set, train = every other case (held-out cases excluded). Folds are recomputed from the whole
case set; only the main split is a ledger.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryosse.core.atomic import write_text_atomic
from cryosse.core.config import settings_from
from cryosse.core.ids import normalize_emdb_id
from cryosse.core.tsv import read_tsv, tsv_text
from cryosse.splits.published import read_test_chains

SPLITS = ("train", "validation", "test")
HELD_OUT = "held_out"
DEFAULT_PROPORTIONS = {"train": 1246, "validation": 47, "test": 62}
LEDGER_COLUMNS = ["sample_id", "split", "quality_bin", "cluster", "batch"]


@dataclass(frozen=True)
class Case:
    sample_id: str
    emdb_id: str
    quality_bin: int
    cluster: str  # representative sample id of its MMseqs2 cluster


@dataclass(frozen=True)
class SplitSettings:
    proportions: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PROPORTIONS))
    seed: int = 1
    max_eval_group_size: int = 3
    n_folds: int = 5
    max_fold_group_size: int = 3  # "fewer than four members"
    evaluation_entries: frozenset[str] = frozenset()  # canonical EMDB ids pinned to test
    test_chains: frozenset[str] = frozenset()  # sample ids pinned to test

    @classmethod
    def from_config(cls, splits: dict[str, Any]) -> SplitSettings:
        """From the config's `splits` section (the ledger's path is read by the workflow)."""
        settings = settings_from(
            cls,
            {key: value for key, value in splits.items() if value is not None},
            ignore=("ledger",),
            proportions=lambda shares: {k: float(v) for k, v in shares.items()},
            evaluation_entries=lambda ids: frozenset(normalize_emdb_id(e) for e in ids),
            test_chains=lambda table: (
                frozenset(c.sample_id for c in read_test_chains(table)) if table else frozenset()
            ),
        )
        proportions = settings.proportions
        if set(proportions) != set(SPLITS) or any(v < 0 for v in proportions.values()):
            raise ValueError(f"split proportions need non-negative {SPLITS}, got {proportions}")
        if sum(proportions.values()) <= 0:
            raise ValueError("split proportions sum to zero")
        return settings

    def fraction(self, split: str) -> float:
        return self.proportions[split] / sum(self.proportions.values())

    def pinned(self, case: Case) -> bool:
        """Pinned to test: a case of an evaluation entry, or a listed test chain."""
        return case.emdb_id in self.evaluation_entries or case.sample_id in self.test_chains


def case_groups(cases: list[Case], links: list[tuple[str, str]] | None = None) -> dict[str, str]:
    """sample_id -> group id (the smallest sample id of the group), by union-find over shared
    clusters, shared entries and `links` (pairs found similar by an all-against-all search)."""
    parent = {c.sample_id: c.sample_id for c in cases}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_of: dict[tuple[str, str], str] = {}
    for case in cases:
        for key in (("cluster", case.cluster), ("entry", case.emdb_id)):
            if key in first_of:
                union(first_of[key], case.sample_id)
            else:
                first_of[key] = case.sample_id
    for a, b in links or []:
        if a in parent and b in parent:
            union(a, b)
    return {c.sample_id: find(c.sample_id) for c in cases}


def _pinned_roles(group_cases: list[Case], settings: SplitSettings) -> dict[str, str]:
    """test for pinned cases, held_out for their group-mates; {} if none is pinned."""
    if not any(settings.pinned(c) for c in group_cases):
        return {}
    return {c.sample_id: "test" if settings.pinned(c) else HELD_OUT for c in group_cases}


def _order_key(seed: int, group: str) -> str:
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


def _stratum(members: list[Case]) -> int:
    counts = Counter(c.quality_bin for c in members)
    return min(counts, key=lambda b: (-counts[b], b))


@dataclass
class LedgerRow:
    sample_id: str
    split: str
    quality_bin: str
    cluster: str
    batch: str


def read_ledger(path: str | Path) -> list[LedgerRow]:
    path = Path(path)
    if not path.exists():
        return []
    return [LedgerRow(**row) for row in read_tsv(path)]


def _rows_text(rows: list[LedgerRow], header: bool) -> str:
    return tsv_text(LEDGER_COLUMNS, (row.__dict__ for row in rows), header=header)


def assign_main_split(
    cases: list[Case],
    ledger: list[LedgerRow],
    settings: SplitSettings,
    links: list[tuple[str, str]] | None = None,
) -> list[LedgerRow]:
    """The new ledger rows for cases not yet in `ledger` (existing rows are never touched)."""
    known = {row.sample_id: row.split for row in ledger}
    groups = case_groups(cases, links)
    members: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        members[groups[case.sample_id]].append(case)
    batch = str(max((int(r.batch) for r in ledger), default=0) + 1)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for case in cases:
        pinned = settings.pinned(case)  # outside the proportions
        if case.sample_id in known and known[case.sample_id] in SPLITS and not pinned:
            counts[case.quality_bin][known[case.sample_id]] += 1

    new_rows: list[LedgerRow] = []

    def add(case: Case, split: str) -> None:
        new_rows.append(
            LedgerRow(case.sample_id, split, str(case.quality_bin), case.cluster, batch)
        )

    fresh_groups = []
    for group, group_cases in sorted(members.items()):
        roles = _pinned_roles(group_cases, settings)
        if roles:
            for case in group_cases:
                if case.sample_id in known and known[case.sample_id] != roles[case.sample_id]:
                    raise ValueError(
                        f"ledger puts {case.sample_id} in {known[case.sample_id]}, but "
                        f"evaluation_entries / test_chains make it {roles[case.sample_id]}: it "
                        "is, or is similar to, a pinned evaluation case; start a new ledger"
                    )
            for case in sorted(group_cases, key=lambda c: c.sample_id):
                if case.sample_id not in known:
                    add(case, roles[case.sample_id])
            continue
        new = [c for c in group_cases if c.sample_id not in known]
        if not new:
            continue
        old_splits = {known[c.sample_id] for c in group_cases if c.sample_id in known}
        old_splits.discard(HELD_OUT)
        if not old_splits and len(new) == len(group_cases):
            fresh_groups.append(group)
            continue
        split = old_splits.pop() if len(old_splits) == 1 else HELD_OUT
        for case in sorted(new, key=lambda c: c.sample_id):
            add(case, split)

    for group in sorted(fresh_groups, key=lambda g: _order_key(settings.seed, g)):
        group_cases = sorted(members[group], key=lambda c: c.sample_id)
        stratum = _stratum(group_cases)
        counter = counts[stratum]
        total = sum(counter.values()) + len(group_cases)
        eligible = [
            s for s in SPLITS if s == "train" or len(group_cases) <= settings.max_eval_group_size
        ]
        eligible = [s for s in eligible if settings.fraction(s) > 0] or ["train"]
        split = max(eligible, key=lambda s: _shortfall(settings.fraction(s) * total, counter[s]))
        counter[split] += len(group_cases)
        for case in group_cases:
            add(case, split)
    return new_rows


def _shortfall(target: float, count: int) -> tuple[float, float]:
    """Largest shortfall against the target count first; ties go to the relatively emptier."""
    return (round(target - count, 9), (target - count) / target)


def update_ledger(
    path: str | Path,
    cases: list[Case],
    settings: SplitSettings,
    links: list[tuple[str, str]] | None = None,
) -> list[LedgerRow]:
    """Append assignments for new cases to the ledger at `path`; return all rows."""
    path = Path(path)
    ledger = read_ledger(path)
    new_rows = assign_main_split(cases, ledger, settings, links)
    if new_rows or not path.exists():
        old_text = path.read_text(encoding="utf-8") if path.exists() else ""
        text = old_text + _rows_text(new_rows, header=not old_text)
        write_text_atomic(path, text)
    return ledger + new_rows


def cross_validation_folds(
    cases: list[Case],
    main: dict[str, str],
    settings: SplitSettings,
    links: list[tuple[str, str]] | None = None,
) -> dict[str, list[str]]:
    """sample_id -> role per fold ("train", "validation", "test", or HELD_OUT)."""
    groups = case_groups(cases, links)
    members: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        members[groups[case.sample_id]].append(case.sample_id)
    evaluation = {c.sample_id for c in cases if settings.pinned(c)}
    usable = [
        c.sample_id
        for c in cases
        if main.get(c.sample_id) in SPLITS and c.sample_id not in evaluation
    ]
    fold_size = max(1, round(len(usable) * settings.fraction("test")))
    candidates = [
        g
        for g in sorted(members, key=lambda g: _order_key(settings.seed, g))
        if len(members[g]) <= settings.max_fold_group_size
        and all(main.get(s) in ("train", "test") and s not in evaluation for s in members[g])
    ]
    folds: list[list[str]] = [[] for _ in range(settings.n_folds)]
    fold = 0
    for group in candidates:
        if fold >= settings.n_folds:
            break
        folds[fold] += sorted(members[group])
        if len(folds[fold]) >= fold_size:
            fold += 1
    roles: dict[str, list[str]] = {}
    for case in cases:
        sid = case.sample_id
        base = main.get(sid, HELD_OUT)
        if settings.pinned(case):
            base = HELD_OUT  # scored by the main test split only, never trained in a fold
        row = []
        for k in range(settings.n_folds):
            if base not in SPLITS:
                row.append(HELD_OUT)
            elif sid in folds[k]:
                row.append("test")
            elif base == "validation":
                row.append("validation")
            else:
                row.append("train")
        roles[sid] = row
    return roles


def write_cv_table(path: str | Path, roles: dict[str, list[str]], n_folds: int) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["sample_id", *[f"fold_{k + 1}" for k in range(n_folds)]])
    for sid in sorted(roles):
        writer.writerow([sid, *roles[sid]])
    write_text_atomic(path, buffer.getvalue())
