"""Test helpers: the loopback archive server and the one-node SLURM cluster."""
