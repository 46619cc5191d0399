"""What the Snakemake workflow needs beside the stages: the toolchain check and job resources."""
