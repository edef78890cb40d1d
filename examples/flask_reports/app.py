"""A web service that answers in well under 100 ms by handing slow work to taskring.

    POST /reports            -> 202 Accepted, Location: /reports/<token>
    GET  /reports/<token>    -> 200 {"state": ..., "progress": {...}} while it runs,
                                303 See Other to /reports/<token>/result once completed
    GET  /reports/<token>/result -> the report

Run it beside a daemon and a worker (examples/flask_reports/README.md):
    taskringd --queue reports --dir /tmp/reports-wal &
    python3 worker.py &
    TASKRING_QUEUE=reports flask --app app run
"""

import contextlib
import os
import queue
import threading

from flask import Flask, jsonify, request, url_for

import taskring

QUEUE = os.environ.get("TASKRING_QUEUE", "reports")

app = Flask(__name__)
# A Producer serves one thread at a time and takes one of the daemon's client entries. The
# server runs a thread per request, so request threads borrow Producers from a pool: as many
# are opened as requests ever ran at once. Status reads share one Jobs handle.
_producers: "queue.SimpleQueue[taskring.Producer]" = queue.SimpleQueue()
_jobs = None
_jobs_lock = threading.Lock()


@contextlib.contextmanager
def producer():
    try:
        p = _producers.get_nowait()
    except queue.Empty:
        p = taskring.Producer(QUEUE)
    try:
        yield p
    finally:
        _producers.put(p)


def jobs() -> taskring.Jobs:
    global _jobs
    with _jobs_lock:
        if _jobs is None:
            _jobs = taskring.Jobs(QUEUE)
        return _jobs


def error(status: int, message: str, **extra):
    body = {"error": message, **extra}
    return jsonify(body), status


@app.post("/reports")
def create_report():
    spec = request.get_data()
    if not spec:
        return error(400, "the body describes the report to build")
    try:
        with producer() as p:
            if len(spec) > p.max_payload:
                return error(413, f"the body is over the queue's {p.max_payload} bytes")
            job_id = p.enqueue(spec, type="report")
    except taskring.Busy as e:
        response, status = error(503, "too many reports in progress, retry later")
        response.headers["Retry-After"] = str(max(1, round(e.retry_after)))
        return response, status
    except taskring.InvalidArgument as e:
        return error(400, str(e))
    except (taskring.Closed, taskring.NotFound, taskring.IoError) as e:
        return error(503, "the report queue is not available", reason=str(e))
    location = url_for("report_status", token=job_id.token)
    return jsonify({"id": job_id, "status_url": location}), 202, {"Location": location}


@app.get("/reports/<token>")
def report_status(token):
    try:
        st = jobs().status(token)
    except (taskring.NotFound, taskring.InvalidArgument):
        return error(404, "no such report")
    body = {
        "state": st.state,
        "attempt": st.attempt,
        "progress": {"percent": st.progress.percent, "message": st.progress.message}
        if st.progress
        else None,
        "error": st.error,
    }
    if st.state == "completed":
        location = url_for("report_result", token=token)
        return jsonify(body), 303, {"Location": location}
    if st.state == "expired":
        return error(410, "the report is no longer kept")
    return jsonify(body), 200


@app.get("/reports/<token>/result")
def report_result(token):
    try:
        data = jobs().result(token)
    except (taskring.NotFound, taskring.InvalidArgument):
        return error(404, "no such report")
    if data is None:
        return error(404, "the report is not ready")
    return data, 200, {"Content-Type": "text/plain; charset=utf-8"}
