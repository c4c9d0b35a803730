"""The simulated web: a real local HTTP/HTTPS server answering for many virtual hosts.

See tests/simweb/web.py for the API and tests/simweb/pytest_plugin.py for the fixtures.
"""

from tests.simweb.server import Connection, HostStats, Request
from tests.simweb.web import Route, SimWeb, serve_spec

__all__ = ["Connection", "HostStats", "Request", "Route", "SimWeb", "serve_spec"]
