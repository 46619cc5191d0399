"""Stage 6, the run's HTML report and its plots."""
