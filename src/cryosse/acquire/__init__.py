"""Stage 1, acquisition: the EMDB search, downloads, and locating each entry's header, map and
fitted models (mirror or HTTP). Entry point for the workflow: `cryosse.acquire.stage`."""
