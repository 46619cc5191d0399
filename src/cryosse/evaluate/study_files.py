"""The study's record and statistics as files (cryosse.evaluate.study, .verdicts): what the
workflow's tables (cryosse.evaluate.stage.run_tables) and the loss study's record
(cryosse.report.study) both write.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryosse.core.atomic import write_text_atomic
from cryosse.core.tsv import read_tsv, tsv_text
from cryosse.evaluate.map_bootstrap import map_of
from cryosse.evaluate.study import (
    PER_CASE_COLUMNS,
    by_stratum,
    case_counts,
    map_kind,
    resolution_band,
)
from cryosse.evaluate.tables import write_table
from cryosse.evaluate.verdicts import rank_probabilities, verdicts


def write_study_tables(
    by_seed: dict[str, dict[int, list]], out: Path, manifest: str | Path | None
) -> None:
    """The study's record and statistics (cryosse.evaluate.study): per_case (TSV + JSON, the
    primary output), claims (the paper's, with verdicts), ranks, by_resolution, by_quality,
    by_kind."""
    rows = {r["sample_id"]: r for r in read_tsv(manifest)} if manifest else {}
    records = case_counts(by_seed, rows)
    cells = [{k: "NA" if v is None else v for k, v in r.items()} for r in records]
    write_text_atomic(out / "per_case.tsv", tsv_text(PER_CASE_COLUMNS, cells))
    write_text_atomic(out / "per_case.json", json.dumps(records, indent=1) + "\n")
    write_table(
        verdicts(by_seed), "The paper's claims: verdicts (map-level bootstrap)", out / "claims"
    )
    write_table(
        rank_probabilities(by_seed), "P(rank 1) per loss (paired map resamples)", out / "ranks"
    )
    cases = {c.sample_id: c for seeds in by_seed.values() for v in seeds.values() for c in v}
    bands = {s: resolution_band(c.resolution) for s, c in cases.items()}
    write_table(
        by_stratum(by_seed, bands, "resolution"), "F1 by resolution band", out / "by_resolution"
    )
    bins = {s: str(rows[s].get("quality_bin", "NA")) for s in cases if s in rows}
    write_table(by_stratum(by_seed, bins, "quality_bin"), "F1 by quality bin", out / "by_quality")
    kinds = {s: map_kind(map_of(s)) for s in cases}
    write_table(by_stratum(by_seed, kinds, "map_kind"), "F1 by map kind", out / "by_kind")
