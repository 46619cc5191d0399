# Shared definitions: the run's output folder and the validated entry list.
from cryosse.dataset import entry_ids_from_config, settings_section, split_entry_ids

RESULTS = f"results/{config['run']}"
MIRROR = config["archive"]["mirror"]
# Only the settings that shape a sample are rule params: adding entries re-runs nothing else.
SETTINGS = settings_section(config)
# Invalid ids never become wildcards (paths); gather logs them as excluded.
ENTRIES, INVALID_ENTRIES = split_entry_ids(entry_ids_from_config(config))


wildcard_constraints:
    emdb="EMD-[0-9]{4,5}",
