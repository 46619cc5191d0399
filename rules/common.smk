# Shared definitions: the run's output folder, the archive, and the validated entry list.
from cryosse.core.ids import split_entry_ids
from cryosse.curate.settings import settings_section
from cryosse.io.entries import entry_ids_from_config
from cryosse.core.run_grid import BASELINES, run_recipe, seeds, selection_grid
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

# The training grid: one run per loss x learning rate (x gamma for the focal losses) with the
# first seed, the best per loss chosen on validation; then every seed of each chosen setting.
SELECTION_RUNS = [spec.run_id for spec in selection_grid(config["training"])]
SEEDS = seeds(config["training"])
# What changes a run's result beside its run id: the training jobs' params. The execution
# settings (device, gpu, threads, mem_mb, runtime, arithmetic) are read by the scripts from the
# config, so changing them re-runs no finished run.
TRAINING_RECIPE = run_recipe(config["training"])
TRAIN_THREADS = config["training"]["threads"] or 2
TRAINED_LOSSES = list(dict.fromkeys(config["training"]["losses"]))
CV_FOLDS = list(range(1, config["splits"]["n_folds"] + 1))


def chosen_run(loss, seed):
    """The run of the setting chosen for `loss` (select_best_runs) with `seed`."""
    from cryosse.learn.stage import chosen_run_id

    best_runs = checkpoints.select_best_runs.get().output[0]
    return chosen_run_id(best_runs, loss, seed, config["training"])


def chosen_checkpoint(wildcards):
    """best.pt of the chosen setting of the loss, with the seed."""
    run_id = chosen_run(wildcards.loss, int(wildcards.seed))
    return expand(rules.train_model.output.best, run_id=run_id)[0]


def chosen_summary(wildcards):
    """summary.json of the chosen setting of the loss with the first seed: an input of the CV
    jobs instead of best_runs.tsv, so that a new run that does not change the choice re-runs
    no fold."""
    run_id = chosen_run(wildcards.loss, SEEDS[0])
    return expand(rules.train_model.output.summary, run_id=run_id)[0]


def trained_runs(wildcards):
    """Every run this config trains: the selection grid, then each loss's chosen setting with
    the other seeds (the runs the report's learning curves and step counts read)."""
    others = [chosen_run(loss, seed) for loss in TRAINED_LOSSES for seed in SEEDS[1:]]
    return sorted(dict.fromkeys([*SELECTION_RUNS, *others]))
