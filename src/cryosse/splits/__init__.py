"""Stage 3, splits: MMseqs2 clusters, the append-only split ledger, CV folds, the paper's test
chains, the split report. Entry point: `cryosse.splits.stage`."""
