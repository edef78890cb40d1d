"""examples/flask_reports over real HTTP: POST answers 202 with a Location, the poll shows
progress, then 303 to the result, built by the example's Python worker process."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

flask = pytest.importorskip("flask")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_reports"
PACKAGE = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), data


@pytest.fixture
def service(daemon, tmp_path):
    env = dict(os.environ, TASKRING_QUEUE=daemon.queue)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE), env.get("PYTHONPATH")]))
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "worker.py", "--steps", "5", "--step-seconds", "0.2"],
            cwd=EXAMPLE, env=env, stdout=subprocess.PIPE, stderr=open(tmp_path / "worker.log", "wb"),
        ),
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
            cwd=EXAMPLE, env=env, stdout=open(tmp_path / "app.log", "wb"), stderr=subprocess.STDOUT,
        ),
    ]
    assert procs[0].stdout.readline().strip() == b"worker ready"
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, (tmp_path / "app.log").read_text()
            time.sleep(0.05)
    yield port
    for p in procs:
        p.terminate()
        p.wait(10)


def test_post_answers_202_then_poll_shows_progress_then_303_to_the_result(service):
    t = time.monotonic()
    status, headers, body = request(service, "POST", "/reports", b"sales 2026-Q3")
    answered_in = time.monotonic() - t
    assert status == 202, body
    location = headers["Location"]
    assert location.startswith("/reports/") and json.loads(body)["status_url"] == location
    print(f"POST /reports answered 202 in {answered_in * 1000:.1f} ms")

    seen_progress = []
    deadline = time.monotonic() + 20
    while True:
        status, headers, body = request(service, "GET", location)
        if status == 303:
            break
        assert status == 200, body
        st = json.loads(body)
        assert st["state"] in ("queued", "running")
        if st["progress"]:
            seen_progress.append(st["progress"]["percent"])
        assert time.monotonic() < deadline, "the report never completed"
        time.sleep(0.05)
    assert seen_progress, "no progress was shown while the report was built"
    assert seen_progress == sorted(seen_progress)
    assert json.loads(body)["state"] == "completed"
    status, _, report = request(service, "GET", headers["Location"])
    assert status == 200
    assert report == b"report for 'sales 2026-Q3': 5 sections\n"


def test_unknown_report_is_404_empty_post_400_and_oversized_413(service):
    assert request(service, "GET", "/reports/" + "0" * 40)[0] == 404
    assert request(service, "GET", "/reports/nonsense")[0] == 404
    assert request(service, "POST", "/reports", b"")[0] == 400
    assert request(service, "POST", "/reports", b"x" * 5000)[0] == 413  # over max payload
