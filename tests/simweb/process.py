"""Run the simulated web in a child process (python -m tests.simweb) and read its addresses."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def simweb_process(
    spec: Sequence[Mapping[str, Any]], *, latency: tuple[float, float] = (0.0, 0.0)
) -> Iterator[dict[str, Any]]:
    """Yields {"http_port", "https_port", "resolve", "ca_file"}; stops the server on exit."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(list(spec), handle)
    command = [sys.executable, "-m", "tests.simweb", handle.name, "--latency", *map(str, latency)]
    child = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("simweb process exited before listening")
        yield json.loads(line)
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout:
            child.stdout.close()
        Path(handle.name).unlink(missing_ok=True)
