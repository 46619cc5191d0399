"""What an entry list will cost before anything is downloaded: entries, bytes, disk, CPU time.

From the entry list alone (entries.tsv: `map_size_kbytes`, the EMDB header's uncompressed map
size in units of 1000 bytes, and `fitted_pdbs`), with the per-byte costs measured on this
project's own runs:

- *download*: at most the maps' uncompressed size (EMDB serves them gzipped, typically 2-5×
  smaller) plus the fitted models, counted but not sized (a model's size is known only once it
  is fetched; deposited mmCIF.gz files are mostly well under 10 MB).
- *samples*: `SAMPLE_BYTES_PER_MAP_BYTE` = 1.2, the ratio of the samples written to the maps'
  uncompressed size over the 197 entries of the offline run (results/offline: 534 MB of samples;
  median per entry 2.0, mean 2.4 — small single-chain maps cost more per byte than big ones).
- *CPU time* of curation, one core: `CURATION_S_PER_ENTRY` + `CURATION_S_PER_MAP_MB` × map MB
  = 4.8 s + 0.28 s/MB, the least-squares line through the wall times of those 197 curate_entry
  jobs (Snakemake `benchmark:` files; 2-core AMD EPYC with avx2 and avx512_bf16, no AMX, load
  average 2-4, maps 0.14-42 MB). Training is not included: it is set by the config, not the list.

An entry whose size the list does not record is counted at the median of the known ones, and
said so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from cryosse.core.ids import is_valid_emdb_id
from cryosse.io.entries import EntryRecord

SAMPLE_BYTES_PER_MAP_BYTE = 1.2
CURATION_S_PER_ENTRY = 4.8
CURATION_S_PER_MAP_MB = 0.28


@dataclass(frozen=True)
class Estimate:
    entries: int  # valid EMDB ids
    sized: int  # of which the list records the map size
    map_bytes: int  # uncompressed, the unsized ones at the median
    models: int  # fitted PDB ids listed
    sample_bytes: int
    curation_cpu_s: float

    def lines(self) -> list[str]:
        gb = 1e9
        if self.entries and not self.sized:
            return [
                f"estimate for {self.entries} entries: map sizes unknown (the entry list records "
                "none; `cryosse search` writes them from the EMDB headers)",
                f"  curation: at least {self.curation_cpu_s / 3600:.2f} CPU-hours on one core",
            ]
        unsized = self.entries - self.sized
        guess = f" ({unsized} without a recorded size counted at the median)" if unsized else ""
        return [
            f"estimate for {self.entries} entries{guess}:",
            f"  download: at most {self.map_bytes / gb:.2f} GB of maps (gzipped on the wire) "
            f"+ {self.models} fitted models",
            f"  disk:     about {(self.map_bytes + self.sample_bytes) / gb:.2f} GB "
            f"(archive cache ≤ {self.map_bytes / gb:.2f} GB, samples ≈ "
            f"{self.sample_bytes / gb:.2f} GB)",
            f"  curation: about {self.curation_cpu_s / 3600:.2f} CPU-hours on one core "
            "(training not included)",
        ]


def estimate_entries(records: list[EntryRecord]) -> Estimate:
    valid = [r for r in records if is_valid_emdb_id(r.emdb_id)]
    sizes = [_map_bytes(r) for r in valid]
    known = [s for s in sizes if s is not None]
    fill = statistics.median(known) if known else 0
    map_bytes = [s if s is not None else fill for s in sizes]
    models = sum(len([p for p in r.fitted_pdbs.split(",") if p]) for r in valid)
    seconds = sum(CURATION_S_PER_ENTRY + CURATION_S_PER_MAP_MB * b / 1e6 for b in map_bytes)
    total = int(sum(map_bytes))
    return Estimate(
        entries=len(valid),
        sized=len(known),
        map_bytes=total,
        models=models,
        sample_bytes=int(SAMPLE_BYTES_PER_MAP_BYTE * total),
        curation_cpu_s=seconds,
    )


def _map_bytes(record: EntryRecord) -> int | None:
    try:
        kbytes = float(record.map_size_kbytes)
    except ValueError:
        return None
    return int(kbytes * 1000) if kbytes > 0 and kbytes != float("inf") else None
