"""Datasette keeps serving while the checker writes: visitors never see "database is locked"."""

import socket
import subprocess
import sys
import threading
import time

import httpx

from checker import store
from checker.outcome import CheckResult, Outcome
from directory.build import build
from directory.db import open_db
from tests.helpers import REPO, make_data_dir, organization


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_reads_succeed_during_a_stream_of_check_writes(tmp_path):
    data = make_data_dir(tmp_path, [organization(f"org-{i}") for i in range(30)])
    db_path = tmp_path / "s.db"
    build(data, db_path)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "directory", "serve", "--db", str(db_path), "--port", str(port)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/signpost/organizations.json", server)
        stop = threading.Event()
        written = []

        def write_checks():
            db = open_db(db_path)
            i = 0
            while not stop.is_set():
                org = f"org-{i % 30}"
                store.save_result(db, None, org, f"https://www.{org}.example.org/",
                                  CheckResult(f"https://www.{org}.example.org/", Outcome.OK, "HTTP 200"))
                written.append(i)
                i += 1

        writer = threading.Thread(target=write_checks)
        writer.start()
        statuses = []
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                for path in ("/signpost/organizations.json?_shape=array", "/signpost/link_status.json?_shape=array"):
                    response = client.get(path)
                    statuses.append(response.status_code)
                    assert "locked" not in response.text
        stop.set()
        writer.join()
        assert len(written) > 50, "the writer kept committing"
        assert set(statuses) == {200}, statuses
    finally:
        server.terminate()
        server.wait(timeout=10)
