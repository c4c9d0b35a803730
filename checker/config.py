"""Every checker default, defined once; the CLI's options default to these."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_USER_AGENT = "Signpost-LinkChecker/0.1 (+https://github.com/signpost-directory/signpost; link checker for a health resource directory)"
DEFAULT_CONCURRENCY = 64            # requests in flight across all hosts
DEFAULT_PER_HOST_LIMIT = 2          # connections at once to one host
DEFAULT_MIN_INTERVAL_S = 0.25       # between request starts to one host
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 15.0       # between bytes
DEFAULT_TOTAL_TIMEOUT_S = 30.0      # one request, headers and capped body
DEFAULT_MAX_REDIRECTS = 10
DEFAULT_MAX_BODY_BYTES = 512 * 1024       # enough for title and content signals
DEFAULT_MAX_DECODED_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_RETRIES = 2                 # extra attempts for transient failures within a run
DEFAULT_BACKOFF_BASE_S = 1.0
DEFAULT_BACKOFF_MAX_S = 30.0
DEFAULT_RETRY_AFTER_CAP_S = 60.0    # longer waits are left to the next run
DEFAULT_URL_DEADLINE_S = 120.0      # one URL, every hop, retry and wait included


@dataclass(frozen=True)
class CheckerConfig:
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = DEFAULT_CONCURRENCY
    per_host_limit: int = DEFAULT_PER_HOST_LIMIT
    min_interval_s: float = DEFAULT_MIN_INTERVAL_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    total_timeout_s: float = DEFAULT_TOTAL_TIMEOUT_S
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    retries: int = DEFAULT_RETRIES
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S
    retry_after_cap_s: float = DEFAULT_RETRY_AFTER_CAP_S
    url_deadline_s: float = DEFAULT_URL_DEADLINE_S
    allow_private_addresses: bool = False
