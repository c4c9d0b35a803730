"""One `signpost check` at a time per database: a second run exits with a clear message.

An advisory flock on `<db>.check.lock` is released by the kernel when the process dies, even
under kill -9, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from datetime import datetime, timezone
from pathlib import Path


class AlreadyRunning(Exception):
    """Another check run holds the lock; the message names it."""


class RunLock:
    def __init__(self, db_path: str | Path):
        self.path = Path(f"{db_path}.check.lock")
        self._file = None

    def __enter__(self) -> RunLock:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise AlreadyRunning(
                f"another `signpost check` is already running on this database ({holder}); "
                f"this run did nothing. Lock file: {self.path}"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        handle.write(f"pid {os.getpid()}, started {started}")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
