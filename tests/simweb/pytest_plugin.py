"""pytest fixtures for the simulated web. Registered in tests/conftest.py:

    pytest_plugins = ["tests.simweb.pytest_plugin"]

`simweb` is a fresh, started SimWeb per test, served from its own thread, so it works from async
tests, sync tests and tests that run the `signpost` CLI in a subprocess (give the subprocess
SIGNPOST_TEST_RESOLVE=web.resolve_env() and SSL_CERT_FILE=web.ca_file, with private addresses
allowed). Declare routes before or after the fixture starts; ports do not change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from checker.network import StaticResolver
from tests.simweb.web import SimWeb


@pytest.fixture
def simweb() -> Iterator[SimWeb]:
    web = SimWeb()
    with web.running():
        yield web


def simweb_resolver(web: SimWeb, *, pretend_public: tuple[str, ...] = ()) -> StaticResolver:
    """A StaticResolver sending every virtual host of `web` to its ports (80 -> http, 443 -> https)."""
    return web.resolver(pretend_public=pretend_public)
