"""File formats: maps (MRC), atomic structures, samples, the archive mirror layout, EMDB
headers, the obsolete list, entry lists, the curation log."""
