"""Stage 5, evaluation: test-set predictions, baselines, voxel and residue F1, statistics,
Tables 1, 2 and S1, scoring other tools' maps. Entry point: `cryosse.evaluate.stage`."""
