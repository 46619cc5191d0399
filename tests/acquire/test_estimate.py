"""The cost printed before any download, from the entry list alone."""

from __future__ import annotations

import pytest

from cryosse.acquire.estimate import (
    CURATION_S_PER_ENTRY,
    CURATION_S_PER_MAP_MB,
    SAMPLE_BYTES_PER_MAP_BYTE,
    estimate_entries,
)
from cryosse.io.entries import EntryRecord


def test_the_estimate_reads_emdb_sizes_in_units_of_1000_bytes() -> None:
    """EMD-25107 as EMDB records it (size_kbytes="42593" for a 42,593,024-byte map, a public
    fact): 42.593 MB, not KiB; an entry without a size counts at the median of the others."""
    records = [
        EntryRecord("EMD-25107", fitted_pdbs="pdb_00007sbd", map_size_kbytes="42593"),
        EntryRecord("EMD-8518", fitted_pdbs="5u8s,5u8t", map_size_kbytes="1000"),
        EntryRecord("EMD-6149", map_size_kbytes="nan"),
        EntryRecord("EMD-1;rm"),  # never counted
    ]
    estimate = estimate_entries(records)
    assert (estimate.entries, estimate.sized, estimate.models) == (3, 2, 3)
    median = (42_593_000 + 1_000_000) / 2
    assert estimate.map_bytes == int(42_593_000 + 1_000_000 + median)
    assert estimate.sample_bytes == int(SAMPLE_BYTES_PER_MAP_BYTE * estimate.map_bytes)
    assert estimate.curation_cpu_s == pytest.approx(
        3 * CURATION_S_PER_ENTRY + CURATION_S_PER_MAP_MB * estimate.map_bytes / 1e6
    )
    text = "\n".join(estimate.lines())
    assert "estimate for 3 entries (1 without a recorded size counted at the median)" in text
    assert "at most 0.07 GB of maps" in text and "+ 3 fitted models" in text
    unknown = estimate_entries([EntryRecord("EMD-8518")])
    assert "map sizes unknown" in unknown.lines()[0]
