"""Resource requests that follow the data: the memory a curation job asks a scheduler for.

Definitions, from measurements on this project's real data:

- *job overhead*: a curation job is a Python process importing cryosse (numpy, gemmi, mrcfile,
  torch through the dataset module) run by Snakemake's script wrapper, and on SLURM also the
  jobstep's own Snakemake process. Snakemake's `benchmark:` files of the demo run show
  max_rss 311-331 MB for curate_entry (294 MB for acquire_entry, which reads no map);
  `CURATION_BASE_MB` = 1000 covers both processes with headroom.
- *map term*: `benchmarks/curation.py` on 12 real EMDB map/model pairs
  measured peak RSS 91-232 MiB per pair, i.e. 12-152 MiB above a process that only imports
  cryosse.curate.entry; the increase is at most 60 MiB for maps under 5 MB and 152 MiB for the
  largest (220³ float32, 42.6 MB): about 3.6 × the map's uncompressed size, from the map, its
  float copy and the per-sample boxes. `CURATION_MB_PER_MAP_MB` = 4 rounds that up.
- the map's uncompressed size is the EMDB header's `map_size_kbytes`, recorded by the
  acquisition job; when it is unknown, `CURATION_UNKNOWN_MB` is asked for. An entry excluded at
  acquisition (status "excluded") reads no map: the overhead alone.
- each retry (`attempt` 2, 3, ...) asks for `attempt` times as much, so a job killed for
  memory comes back with more.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

CURATION_BASE_MB = 1000
CURATION_MB_PER_MAP_MB = 4
CURATION_UNKNOWN_MB = 8000


def curation_mem_mb(acquired: str | Path, attempt: int = 1) -> int:
    """Memory (MB) for curating the entry whose acquisition record is `acquired`."""
    record = json.loads(Path(acquired).read_text())
    kbytes = record.get("map_size_kbytes")
    need: float
    if record.get("status") != "ok":
        need = CURATION_BASE_MB
    elif isinstance(kbytes, int | float) and kbytes > 0:
        need = CURATION_BASE_MB + CURATION_MB_PER_MAP_MB * kbytes / 1000
    else:
        need = CURATION_UNKNOWN_MB
    return int(math.ceil(need * max(1, attempt) / 100) * 100)
