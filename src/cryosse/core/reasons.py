"""Machine-readable reasons for the curation log, and the error that carries them.

Every entry and every chain ends in the curation log as kept or excluded with one of these
codes plus a human sentence; the codes are stable so later tools can count them.

Only faults of the data become exclusions. A fault of the machine (disk full, an I/O error, out
of memory, a helper program killed) says nothing about the entry: `is_environment_fault` tells
them apart, and such an error is raised through, so the job fails and a re-run retries it,
instead of excluding a good entry for good.
"""

from __future__ import annotations

import errno
import signal
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
    # a non-orthogonal cell (angles not 90°, not finite) or a skew transformation: the
    # pipeline's grids are orthogonal, and resampling a skewed map as one would misplace it
    MAP_NOT_ORTHOGONAL = "map_not_orthogonal"
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
    # the chain's padded box (clipped to the map) needs more memory than the job's budget:
    # refused before it is allocated
    CHAIN_BOX_TOO_LARGE = "chain_box_too_large"
    QUALITY_BIN_4 = "quality_bin_4"
    # anything not foreseen in the data: still logged, never fatal for the run (faults of the
    # machine are not this: see is_environment_fault)
    INTERNAL_ERROR = "internal_error"


class DataError(Exception):
    """A fault of the input data, with its reason: in the pipeline it excludes an entry, a model
    or a chain (the curation log); in `cryosse segment` it refuses the user's map in one line.
    Raised by the io layer too, so it is not named after curation."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# errno values that say the machine failed, not the input: no space or quota, an I/O error, no
# memory, a read-only or stale file system, no file handles left
ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EIO,
        errno.ENOMEM,
        errno.EROFS,
        errno.ESTALE,
        errno.EMFILE,
        errno.ENFILE,
        errno.ENOBUFS,
        errno.EAGAIN,
    }
)
# a helper program ended by one of these was killed (the OOM killer, a scheduler, a user), not
# failed on its input
KILL_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP})


class EnvironmentFault(OSError):
    """The machine failed while handling an input (e.g. a helper program was killed): the job
    fails and a re-run retries; never an exclusion. An OSError, so that whatever reports the
    machine's errors (a full disk, say) reports this one too."""


def is_environment_fault(exc: BaseException) -> bool:
    """True for a fault of the machine rather than of the data (see the module docstring)."""
    if isinstance(exc, EnvironmentFault | MemoryError):
        return True
    return isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS


def killed_by(returncode: int) -> str | None:
    """The signal's name when a subprocess's return code says it was killed, else None."""
    if returncode < 0 and -returncode in KILL_SIGNALS:
        return signal.Signals(-returncode).name
    return None
