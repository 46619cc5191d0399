"""The archive and the downloader that a config's `archive` and `download` sections describe."""

from __future__ import annotations

from typing import Any

from cryosse.acquire.archive import Archive
from cryosse.acquire.archive_settings import (
    ArchiveSettings,
    ArchiveURLs,
    DownloadLimits,
    DownloadSettings,
)
from cryosse.acquire.download import Downloader
from cryosse.acquire.http_archive import HttpArchive
from cryosse.acquire.mirror_archive import MirrorArchive
from cryosse.io.mirror import LocalMirror


def archive_from_config(
    archive: dict[str, Any], download: dict[str, Any], progress: bool = False
) -> Archive:
    """A mirror when `archive.mirror` is set, otherwise HTTP into `archive.cache`."""
    settings = ArchiveSettings.from_config(archive)
    if settings.mirror:
        return MirrorArchive(LocalMirror.at(settings.mirror))
    return HttpArchive(
        cache=LocalMirror.at(settings.cache or "archive"),
        urls=ArchiveURLs.from_settings(settings),
        downloader=downloader_from_config(
            download, progress=progress, allow_http_downgrade=settings.allow_http_downgrade
        ),
        limits=DownloadLimits.from_config(download),
    )


def downloader_from_config(
    download: dict[str, Any], progress: bool = False, allow_http_downgrade: bool = False
) -> Downloader:
    """A Downloader with the config's `download` settings; `allow_http_downgrade` is the
    `archive` section's (which addresses may be followed, not how to download)."""
    settings = DownloadSettings.from_config(download)
    kwargs: dict[str, Any] = {
        "timeout": settings.timeout,
        "max_retries": settings.retries,
        "backoff_base": settings.backoff,
        "backoff_max": settings.backoff_max,
        "retry_after_max": settings.retry_after_max,
        "deadline": settings.deadline,
        "host_interval": settings.host_interval,
        "progress": progress,
        "allow_http_downgrade": allow_http_downgrade,
    }
    if settings.user_agent:
        kwargs["user_agent"] = settings.user_agent
    return Downloader(**kwargs)
