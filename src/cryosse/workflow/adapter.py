"""What every adapter in workflow_scripts/ does around its one stage call: log to the rule's
log, and end a job whose device is refused with one line instead of a traceback.

(Sending stderr to the rule's log stays the adapter's first statement: it must precede every
import, this module's included.)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def rule_log(path: str) -> logging.Logger:
    """The logger whose INFO records (and those of the package) go to the rule's log."""
    logging.basicConfig(filename=path, level=logging.INFO)
    return logging.getLogger()


@contextmanager
def exit_on_device_error(job: str) -> Iterator[None]:
    """A job that asked for a device it does not get fails with one line naming it."""
    from cryosse.learn.device import DeviceError  # torch: only the jobs that train or predict

    try:
        yield
    except DeviceError as error:
        sys.exit(f"{job}: {error}")
