"""cryosse: medium-resolution cryo-EM maps paired with their atomic models, labelled for
secondary-structure segmentation (helix / beta-sheet / background)."""

__version__ = "0.1.0"
