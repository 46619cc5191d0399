"""Stage 2, curation: DSSP, chains, fit checks, box crop, voxel labels, quality bins, one
sample per central chain; the curation log and manifest. Entry point: `cryosse.curate.stage`."""
