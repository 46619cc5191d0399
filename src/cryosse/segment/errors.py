"""What `cryosse segment` refuses with and warns about: one line each, for the command line."""

from __future__ import annotations


class SegmentError(ValueError):
    """Bad input or options for segmentation, with a one-line explanation."""


class ResolutionWarning(UserWarning):
    """The map's resolution lies outside the range the model was trained on."""


class UnmaskedMapWarning(UserWarning):
    """The map looks like a full, unmasked map (cryosse.segment.masking)."""
