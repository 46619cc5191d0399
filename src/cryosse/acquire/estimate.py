"""What an entry list will cost before anything is downloaded: entries, bytes, disk, curation.

Every figure is the entry list (or a planned count of entries) times a cost measured on this
project's own runs; each printed line says which figures are measured, which are extrapolated,
and on what hardware. The whole run's cost (samples, splits, training, evaluation) builds on it
in cryosse.acquire.run_estimate.

The data set, from the entry list (entries.tsv: `map_size_kbytes`, the EMDB header's
uncompressed map size in units of 1000 bytes, and `fitted_pdbs`):

- *download*: at most the maps' uncompressed size (EMDB serves them gzipped, typically 2-5×
  smaller) plus the fitted models, counted but not sized (a model's size is known only once it
  is fetched; deposited mmCIF.gz files are mostly well under 10 MB).
- *samples*: `SAMPLES_PER_ENTRY` = 0.95 samples per entry (749 from the 787 entries of the
  offline study build, most of them simulated maps: a real list of large assemblies yields more
  chains per entry) of `SAMPLE_BYTES` = 3.15 MB each (their mean on disk: a float32 density and
  a uint8 label map of a 621,157-voxel mean box); an earlier 197-entry build wrote 2.7 MB of
  samples per entry, the same within 10 %. A sample is a box around one chain, so its size
  follows the chain, not the map.
- *CPU time* of curation, one core per job: `CURATION_S_PER_ENTRY` + `CURATION_S_PER_MAP_MB` ×
  map MB = 0.84 s + 0.31 s/MB, the least-squares line through the wall times of the 787
  curate_entry jobs of the offline study build (Snakemake `benchmark:` files; 2-core AMD EPYC
  with avx2 and avx512_bf16, no AMX, load average 2-5; maps 0.07-65 MB; 0.42 hours in all,
  which the line reproduces). mkdssp on the model dominates the big ones: the two slowest jobs
  (135 s and 129 s) were two maps of one ribosome (6zu5, a 3.8 MB mmCIF.gz), so a list of large
  assemblies costs more than the line says. Acquisition from a mirror took 0.30 s per entry
  (787 acquire_entry jobs); downloading takes what the network gives.

An entry whose size the list does not record is counted at the median of the known ones, and
said so.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from cryosse.core.ids import is_valid_emdb_id
from cryosse.io.entries import EntryRecord

SAMPLE_BYTES = 3.15e6
CURATION_S_PER_ENTRY = 0.84
CURATION_S_PER_MAP_MB = 0.31
ACQUISITION_S_PER_ENTRY = 0.30
SAMPLES_PER_ENTRY = 0.95


@dataclass(frozen=True)
class Estimate:
    entries: int  # valid EMDB ids
    sized: int  # of which the list records the map size
    map_bytes: int  # uncompressed, the unsized ones at the median
    models: int  # fitted PDB ids listed
    sample_bytes: int
    curation_cpu_s: float

    def lines(self) -> list[str]:
        """What the entry list costs: its size, download, disk and curation time."""
        if self.entries and not self.sized:
            return [
                *self.volume_lines(),
                f"  curation: at least {self.curation_cpu_s / 3600:.2f} CPU-hours on one core",
            ]
        return [
            *self.volume_lines(),
            f"  curation: about {self.curation_cpu_s / 3600:.2f} CPU-hours on one core "
            "(training not included)",
        ]

    def volume_lines(self) -> list[str]:
        """The entry count, the download and the disk."""
        gb = 1e9
        if self.entries and not self.sized:
            return [
                f"estimate for {self.entries} entries: map sizes unknown (the entry list records "
                "none; `cryosse search` writes them from the EMDB headers)",
            ]
        unsized = self.entries - self.sized
        guess = f" ({unsized} without a recorded size counted at the median)" if unsized else ""
        return [
            f"estimate for {self.entries} entries{guess}:",
            f"  download: at most {self.map_bytes / gb:.2f} GB of maps (gzipped on the wire) "
            f"+ {f'{self.models} fitted models' if self.models else 'their fitted models'}",
            f"  disk:     about {(self.map_bytes + self.sample_bytes) / gb:.2f} GB "
            f"(archive cache ≤ {self.map_bytes / gb:.2f} GB, samples ≈ "
            f"{self.sample_bytes / gb:.2f} GB)",
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
        sample_bytes=_sample_bytes(len(valid)),
        curation_cpu_s=seconds,
    )


def _sample_bytes(entries: int) -> int:
    return int(entries * SAMPLES_PER_ENTRY * SAMPLE_BYTES)


def _map_bytes(record: EntryRecord) -> int | None:
    try:
        kbytes = float(record.map_size_kbytes)
    except ValueError:
        return None
    return int(kbytes * 1000) if kbytes > 0 and kbytes != float("inf") else None


def estimate_count(entries: int, map_mb: float | None) -> Estimate:
    """The cost of `entries` entries not listed yet (planning before `cryosse search`), each
    with a map of `map_mb` MB (None: unknown); their fitted models are not counted."""
    if entries < 0 or (map_mb is not None and not (0 < map_mb < math.inf)):
        raise ValueError(f"entries must be >= 0 and map MB > 0 (got {entries}, {map_mb})")
    map_bytes = int(entries * map_mb * 1e6) if map_mb else 0
    return Estimate(
        entries=entries,
        sized=entries if map_mb else 0,
        map_bytes=map_bytes,
        models=0,
        sample_bytes=_sample_bytes(entries),
        curation_cpu_s=entries * CURATION_S_PER_ENTRY + CURATION_S_PER_MAP_MB * map_bytes / 1e6,
    )
