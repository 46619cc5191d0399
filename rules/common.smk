# Shared definitions: the run's output folder, the archive, and the validated entry list.
from cryosse.core.ids import split_entry_ids
from cryosse.curate.settings import settings_section
from cryosse.io.entries import entry_ids_from_config
from cryosse.core.grid import BASELINES, training_grid
from pathlib import Path

RESULTS = f"results/{config['run']}"
# Where files come from (mirror or HTTP). Download tuning (config["download"]) is read by the
# scripts directly, so changing a timeout never re-runs a finished entry.
ARCHIVE = config["archive"]
HTTP_MODE = not ARCHIVE.get("mirror")
# The search checkpoint writes the entry list when it does not exist yet.
SEARCH_ENABLED = bool(config["search"]["enabled"] and config.get("entries_file"))
# Only the settings that shape a sample are passed as params, so adding entries re-runs
# nothing else.
SETTINGS = settings_section(config)


def entry_ids():
    """(valid canonical ids, invalid raw ids); invalid ids never become wildcards (paths)."""
    if SEARCH_ENABLED and not Path(config["entries_file"]).exists():
        checkpoints.search_emdb.get()
    return split_entry_ids(entry_ids_from_config(config))


# The append-only split ledger: not a rule output, so Snakemake never deletes it.
SPLIT_LEDGER = config["splits"]["ledger"] or f"{RESULTS}/splits/ledger.tsv"
# The test-chain table (splits.test_chains, e.g. config/paper_test_set.tsv), an input of the
# rules that read it, so editing it re-runs them. Off, the split settings passed as params are
# exactly those of a config without the option: existing runs re-run nothing.
TEST_CHAINS = config["splits"]["test_chains"] or []
SPLIT_SETTINGS = {k: v for k, v in config["splits"].items() if k != "test_chains" or v}

# The training grid: one run id per loss x learning rate (x gamma for the focal losses).
TRAINING_RUNS = [spec.run_id for spec in training_grid(config["training"])]
RUNS_BY_LOSS = {
    loss: [s.run_id for s in training_grid(config["training"]) if s.loss == loss]
    for loss in config["training"]["losses"]
}
TRAIN_THREADS = config["training"]["threads"] or 2
TRAINED_LOSSES = list(dict.fromkeys(config["training"]["losses"]))
CV_FOLDS = list(range(1, config["splits"]["n_folds"] + 1))
