"""TLS for the simulated web: one test CA, server contexts chosen per virtual host through SNI.

Issuing certificates costs a few milliseconds each, so contexts are cached for the whole test
process and shared by every SimWeb instance.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
import threading
from enum import StrEnum
from functools import cache
from pathlib import Path

import trustme


class TLSScenario(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"              # issued by the test CA, notAfter in the past
    WRONG_HOST = "wrong_host"        # issued by the test CA for another name
    SELF_SIGNED = "self_signed"      # a self-signed certificate nobody trusts
    EXPIRING_SOON = "expiring_soon"  # valid, but notAfter only 10 days away


class TestCertificates:
    """The CA clients trust, and server contexts for (host, scenario) pairs."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self._untrusted_root = trustme.CA()
        self._contexts: dict[tuple[str, TLSScenario], ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._ca_file: Path | None = None

    @property
    def ca_file(self) -> Path:
        """The CA certificate as a PEM file, for SSL_CERT_FILE or cafile=."""
        if self._ca_file is None:
            handle = tempfile.NamedTemporaryFile(prefix="simweb-ca-", suffix=".pem", delete=False)
            with handle:
                handle.write(self.ca.cert_pem.bytes())
            self._ca_file = Path(handle.name)
        return self._ca_file

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the test CA."""
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=self.ca.cert_pem.bytes().decode("ascii"))
        return context

    def server_context(self, host: str, scenario: TLSScenario = TLSScenario.VALID) -> ssl.SSLContext:
        key = (host, scenario)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = self._contexts[key] = self._make_context(host, scenario)
        return context

    def _make_context(self, host: str, scenario: TLSScenario) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if scenario is TLSScenario.SELF_SIGNED:
            # A root certificate is self-signed: serving one as the leaf is the real thing.
            with self._untrusted_root.cert_pem.tempfile() as cert, \
                    self._untrusted_root.private_key_pem.tempfile() as key:
                context.load_cert_chain(cert, key)
            return context
        now = datetime.datetime.now(datetime.timezone.utc)
        if scenario is TLSScenario.EXPIRED:
            leaf = self.ca.issue_cert(
                host,
                not_before=now - datetime.timedelta(days=60),
                not_after=now - datetime.timedelta(days=1),
            )
        elif scenario is TLSScenario.EXPIRING_SOON:
            leaf = self.ca.issue_cert(host, not_after=now + datetime.timedelta(days=10))
        elif scenario is TLSScenario.WRONG_HOST:
            leaf = self.ca.issue_cert("some-other-site.test")
        else:
            leaf = self.ca.issue_cert(host)
        leaf.configure_cert(context)
        return context


@cache
def test_certificates() -> TestCertificates:
    """The process-wide test CA (created on first use)."""
    return TestCertificates()
