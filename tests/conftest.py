import asyncio
import os
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["tests.simweb.pytest_plugin"]

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "data"


@pytest.fixture
def repo_root() -> Path:
    return REPO


def chromium_path() -> str | None:
    """Debian's chromium; in CI (SIGNPOST_REQUIRE_BROWSER=1) its absence is a failure, not a skip."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None and os.environ.get("SIGNPOST_REQUIRE_BROWSER"):
        pytest.fail("chromium is required (SIGNPOST_REQUIRE_BROWSER=1) but was not found; apt-get install chromium")
    return path


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Network safety net for every test: asyncio code in the test process cannot connect
    outside 127.0.0.0/8, whatever the code under test decides."""
    original = asyncio.BaseEventLoop.create_connection

    async def guarded(self, protocol_factory, host=None, port=None, **kwargs):
        assert host is not None and host.startswith("127."), f"test tried to connect to {host}"
        return await original(self, protocol_factory, host, port, **kwargs)

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", guarded)
