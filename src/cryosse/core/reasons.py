"""Machine-readable reasons for the curation log, and the error that carries them.

Every entry and every chain ends in the curation log as kept or excluded with one of these
codes plus a human sentence; the codes are stable so later tools can count them.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    KEPT = "kept"
    # entry level
    INVALID_ID = "invalid_id"
    HEADER_MISSING = "header_missing"
    HEADER_INVALID = "header_invalid"
    OBSOLETE_ENTRY = "obsolete_entry"
    RESOLUTION_UNKNOWN = "resolution_unknown"
    RESOLUTION_OUT_OF_RANGE = "resolution_out_of_range"
    NO_FITTED_MODEL = "no_fitted_model"
    MAP_MISSING = "map_missing"
    MAP_SIZE_MISMATCH = "map_size_mismatch"
    # a download failed after all retries (transient) or its file failed verification
    DOWNLOAD_FAILED = "download_failed"
    MAP_UNREADABLE = "map_unreadable"
    MAP_INVALID_VALUES = "map_invalid_values"
    # the work the map's header implies (voxels, extended header, gzip expansion) exceeds the
    # memory budget of the job: refused before reading
    MAP_TOO_LARGE = "map_too_large"
    # the entry ran out of memory anyway (MemoryError): excluded, the run goes on
    RESOURCES_EXCEEDED = "resources_exceeded"
    # model level
    MODEL_MISSING = "model_missing"
    OBSOLETE_MODEL = "obsolete_model"
    # status "replaced": an obsolete fitted model followed to its successor
    MODEL_SUPERSEDED = "model_superseded"
    MODEL_UNREADABLE = "model_unreadable"
    NO_PROTEIN = "no_protein"
    MODEL_OUTSIDE_MAP = "model_outside_map"
    MAP_MODEL_MISMATCH = "map_model_mismatch"
    DSSP_FAILED = "dssp_failed"
    DSSP_EMPTY = "dssp_empty"
    # chain level
    CHAIN_TOO_SHORT = "chain_too_short"
    CHAIN_OUTSIDE_MAP = "chain_outside_map"
    CHAIN_NO_HELIX = "chain_no_helix"
    CHAIN_REDUNDANT = "chain_redundant"
    CHAIN_EMPTY_BOX = "chain_empty_box"
    QUALITY_BIN_4 = "quality_bin_4"
    # anything not foreseen: still logged, never fatal for the run
    INTERNAL_ERROR = "internal_error"


class CurationError(Exception):
    """An input problem that excludes an entry, a model or a chain, with its reason."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
