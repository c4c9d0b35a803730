"""Serve a simulated web from its own process, for benchmarks and CLI tests.

    python -m tests.simweb SPEC.json [--latency 0.05 0.4]

SPEC.json is a list of declarations, e.g. [{"kind": "page", "host": "www.ok.test", "path": "/"}]
(see SimWeb.DECLARATIVE). Once listening, one JSON line is printed on stdout:
{"http_port": ..., "https_port": ..., "resolve": {...}, "ca_file": ...}; "resolve" is the value
for SIGNPOST_TEST_RESOLVE and "ca_file" for SSL_CERT_FILE. The server stops when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.simweb.web import serve_spec


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.simweb")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--latency", type=float, nargs=2, metavar=("MIN_S", "MAX_S"), default=(0.0, 0.0))
    args = parser.parse_args(argv)
    web = serve_spec(json.loads(args.spec.read_text()), latency=tuple(args.latency))
    info = {"http_port": web.http_port, "https_port": web.https_port, "resolve": web.resolve_map(), "ca_file": web.ca_file}
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()   # until the parent closes our stdin (or exits)
    finally:
        web.stop()


if __name__ == "__main__":
    main()
