"""The config's `archive` and `download` sections: where files come from (`ArchiveSettings`,
`ArchiveURLs`), and how they are downloaded (`DownloadSettings`, `DownloadLimits`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryosse.core.config import settings_from
from cryosse.core.ids import emdb_number, normalize_emdb_id, normalize_pdb_id, upper_pdb_id

DEFAULT_EMDB_FILES_URL = "https://ftp.ebi.ac.uk/pub/databases/emdb"
DEFAULT_EMDB_API_URL = "https://www.ebi.ac.uk/emdb/api"
# mmCIF from RCSB, then from PDBe; the PDB format only as a last resort (no extended ids).
DEFAULT_MODEL_URLS = (
    "https://files.rcsb.org/download/{ID}.cif.gz",
    "https://www.ebi.ac.uk/pdbe/entry-files/download/{id}.cif",
    "https://files.rcsb.org/download/{ID}.pdb.gz",
)
DEFAULT_OBSOLETE_LIST_URL = "https://files.wwpdb.org/pub/pdb/data/status/obsolete.dat"


@dataclass(frozen=True)
class ArchiveSettings:
    """The config's `archive` section: where files come from."""

    mirror: str | None = None  # a local mirror read in place; else HTTP into `cache`
    cache: str = "archive"
    emdb_files_url: str = DEFAULT_EMDB_FILES_URL
    emdb_api_url: str = DEFAULT_EMDB_API_URL
    model_urls: tuple[str, ...] = DEFAULT_MODEL_URLS
    obsolete_list_url: str = DEFAULT_OBSOLETE_LIST_URL
    # follow a redirect from https:// to http:// (default: refuse it, a configuration error)
    allow_http_downgrade: bool = False

    @classmethod
    def from_config(cls, archive: dict[str, Any]) -> ArchiveSettings:
        return settings_from(cls, archive, model_urls=tuple)


@dataclass(frozen=True)
class DownloadSettings:
    """The config's `download` section: HTTP behaviour and size caps."""

    concurrency: int = 4
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 600.0
    user_agent: str | None = None  # None: cryosse/<version>
    deadline: float = 3600.0
    host_interval: float = 0.4
    max_header_mb: float = 10.0
    max_model_mb: float = 2000.0
    max_map_mb: float = 20000.0

    @classmethod
    def from_config(cls, download: dict[str, Any]) -> DownloadSettings:
        return settings_from(cls, download)


@dataclass(frozen=True)
class DownloadLimits:
    """Size caps of the downloads (bytes): a body beyond its cap is refused at once."""

    header: int = 10 * 1000**2
    model: int = 2 * 1000**3
    # a map whose header gives no size; otherwise the header's size (+ gzip slack) is the cap
    map: int = 20 * 1000**3
    obsolete_list: int = 50 * 1000**2

    @classmethod
    def from_config(cls, download: dict[str, Any]) -> DownloadLimits:
        settings, mb = DownloadSettings.from_config(download), 1000**2
        return cls(
            header=int(settings.max_header_mb * mb),
            model=int(settings.max_model_mb * mb),
            map=int(settings.max_map_mb * mb),
        )


@dataclass(frozen=True)
class ArchiveURLs:
    """Base URLs of the archives; templates take {id} (lower case) or {ID} (upper case, an
    extended id keeping its "pdb_" prefix: pdb_00001ABC)."""

    emdb_files: str = DEFAULT_EMDB_FILES_URL
    emdb_api: str = DEFAULT_EMDB_API_URL
    models: tuple[str, ...] = DEFAULT_MODEL_URLS
    obsolete_list: str = DEFAULT_OBSOLETE_LIST_URL

    @classmethod
    def from_config(cls, archive: dict[str, Any]) -> ArchiveURLs:
        return cls.from_settings(ArchiveSettings.from_config(archive))

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> ArchiveURLs:
        return cls(
            emdb_files=settings.emdb_files_url.rstrip("/"),
            emdb_api=settings.emdb_api_url.rstrip("/"),
            models=settings.model_urls,
            obsolete_list=settings.obsolete_list_url,
        )

    def header_url(self, emdb_id: str) -> str:
        emdb = normalize_emdb_id(emdb_id)
        return f"{self.emdb_files}/structures/{emdb}/header/emd-{emdb_number(emdb)}-v30.xml"

    def map_url(self, emdb_id: str, file_name: str) -> str:
        return f"{self.emdb_files}/structures/{normalize_emdb_id(emdb_id)}/map/{file_name}"

    def model_urls(self, pdb_id: str) -> list[str]:
        pid = normalize_pdb_id(pdb_id)
        return [template.format(id=pid, ID=upper_pdb_id(pid)) for template in self.models]
