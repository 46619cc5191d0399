# Shared definitions: the run's output folder and the validated entry list.
from cryosse.dataset import entry_ids_from_config, split_entry_ids

RESULTS = f"results/{config['run']}"
# Invalid ids never become wildcards (paths); gather logs them as excluded.
ENTRIES, INVALID_ENTRIES = split_entry_ids(entry_ids_from_config(config))


wildcard_constraints:
    emdb="EMD-[0-9]{4,5}",
