"""The web page of `taskring http` (issue 16) in a real browser: headless chromium against a real
daemon with real workers (the Python package), through a real gateway.

The queue is set up to hold still while a page is read: jobs no worker takes (type "idle"), one
job held running with progress, one delayed by an hour, one waiting to retry after a failure,
and dead letters; so the numbers the page shows can be compared with `taskring stat --json`.
"""

import json
import os
import subprocess
import time

import pytest
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import taskring

from conftest import BIN

# A payload, a type and an error that would run script if any page put them into HTML raw.
EVIL_PAYLOAD = b'<script>window.__pwned=1</script>"\'&\xff\xfe end'
# Job types are refused unless [A-Za-z0-9._:-] (checked below), so markup reaches a page
# through payloads, errors and progress messages.
HTML_TYPE = '<img src=x onerror="window.__pwned=2">'
EVIL_TYPE = "evil"
EVIL_PROGRESS = "halfway there <img src=x onerror=window.__pwned=4>"
EVIL_ERROR = '"><script>window.__pwned=3</script> \'quoted\' & <b>bold</b>'

STAT_FIELDS = ("depth", "capacity", "outstanding", "running", "delayed", "dead_letters",
               "workers", "producers")


def stat(queue: str) -> dict:
    out = subprocess.run([str(BIN / "taskring"), "stat", "--queue", queue, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def eventually(fn, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def make_dead(producer, worker, payload, *, type=None, error="boom"):
    """Enqueues a one-attempt job, takes it and fails it: a dead letter. Returns its JobId."""
    job_id = producer.enqueue(payload, type=type, max_attempts=1)
    job = worker.take(timeout=5)
    assert job is not None and job.id == job_id
    worker.fail(job, error)
    eventually(lambda: producer.status(job_id).state == "dead", f"job {job_id} to die")
    return job_id


class Scene:
    """A queue in a known, still state, and the handles that keep it so."""

    def __init__(self, daemon):
        self.queue = daemon.queue
        self.producer = taskring.Producer(daemon.queue)
        self.holder = taskring.Worker(daemon.queue, types=["slow"])
        self.failer = taskring.Worker(daemon.queue, types=["flaky", "doomed", EVIL_TYPE])
        self.idle = [self.producer.enqueue(b"idle %d" % i, type="idle") for i in range(3)]
        self.delayed = self.producer.enqueue(b"later", type="idle", delay=3600)
        self.running = self.producer.enqueue(b"slow work", type="slow")
        self.running_job = self.holder.take(timeout=5)
        assert self.running_job.id == self.running
        self.running_job.progress(40, EVIL_PROGRESS)
        self.retrying = self.producer.enqueue(b"flaky work", type="flaky", max_attempts=5)
        job = self.failer.take(timeout=5)
        assert job.id == self.retrying
        self.failer.fail(job, "upstream timed out")
        self.dead = make_dead(self.producer, self.failer, b"doomed work", type="doomed",
                              error="no such customer")
        self.evil = make_dead(self.producer, self.failer, EVIL_PAYLOAD, type=EVIL_TYPE,
                              error=EVIL_ERROR)

    def close(self):
        for h in (self.holder, self.failer, self.producer):
            h.close()


@pytest.fixture
def scene(daemon_factory):
    d = daemon_factory("--durability", "none")
    s = Scene(d)
    yield s
    s.close()


def open_page(browser, url: str, ready_css: str):
    browser.get(url)
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, ready_css))


def accept_confirmation(browser) -> str:
    """Accepts the page's confirm() dialog and returns its text ("" if none came)."""
    try:
        WebDriverWait(browser, 5).until(lambda b: b.switch_to.alert)
        alert = browser.switch_to.alert
        text = alert.text
        alert.accept()
        return text
    except (NoAlertPresentException, TimeoutException):
        return ""


def assert_inert(browser):
    assert browser.execute_script("return window.__pwned === undefined"), "page ran injected script"


def test_overview_shows_what_taskring_stat_shows(browser, gateway_factory, scene, shot):
    g = gateway_factory(scene.queue)
    open_page(browser, g.url + "/", f'tr[data-queue="{scene.queue}"]')
    time.sleep(2.5)  # one live refresh of the numbers has run
    before = stat(scene.queue)
    browser.refresh()
    row = WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.CSS_SELECTOR, f'tr[data-queue="{scene.queue}"]'))
    shown = {f: row.find_element(By.CSS_SELECTOR, f'[data-field="{f}"]').text.strip()
             for f in STAT_FIELDS}
    after = stat(scene.queue)
    for f in STAT_FIELDS:
        assert before[f] == after[f], f"{f} moved while the page was read"
        assert shown[f] == str(after[f]), f"{f}: page shows {shown[f]!r}, stat {after[f]}"
    assert after["depth"] >= 3 and after["running"] == 1 and after["dead_letters"] == 2
    state = row.find_element(By.CSS_SELECTOR, '[data-field="state"]').text.strip()
    assert state == "up"
    assert row.find_elements(By.CSS_SELECTOR, "svg"), "no sparkline"
    assert_inert(browser)
    shot("overview")
    # The numbers are live: a new job shows without a reload (the page's script, /ui.js, is
    # the one script its Content-Security-Policy lets run).
    scene.producer.enqueue(b"one more", type="idle")
    depth = row.find_element(By.CSS_SELECTOR, '[data-field="depth"]')
    WebDriverWait(browser, 10).until(lambda b: depth.text.strip() == str(after["depth"] + 1))


def test_queue_page_lists_running_delayed_and_failed_jobs(browser, gateway_factory, scene, shot):
    g = gateway_factory(scene.queue)
    open_page(browser, f"{g.url}/queues/{scene.queue}", "#running")
    running = browser.find_element(By.CSS_SELECTOR, f'#running tr[data-job-id="{scene.running}"]')
    assert "slow" in running.text and "40" in running.text
    assert str(os.getpid()) in running.text  # the worker holding it is this process
    delayed = browser.find_element(By.CSS_SELECTOR, f'#delayed tr[data-job-id="{scene.delayed}"]')
    assert "idle" in delayed.text
    failures = browser.find_element(By.ID, "failures")
    assert failures.find_elements(By.CSS_SELECTOR, f'tr[data-job-id="{scene.retrying}"]')
    assert "upstream timed out" in failures.text
    assert_inert(browser)
    shot("queue")


def test_job_page_shows_progress_and_cancels(browser, gateway_factory, scene, shot):
    g = gateway_factory(scene.queue)
    token = scene.producer.status(scene.running).token
    open_page(browser, f"{g.url}/queues/{scene.queue}/jobs/{token}", "#job-state")
    assert browser.find_element(By.ID, "job-state").text.strip() == "running"
    progress = browser.find_element(By.ID, "job-progress")
    shown = progress.get_attribute("value") or progress.text
    assert "40" in shown
    assert "halfway there" in browser.page_source
    shot("job")

    victim = scene.idle[0]
    open_page(browser, f"{g.url}/queues/{scene.queue}/jobs/{victim.token}", "#job-state")
    browser.find_element(By.CSS_SELECTOR, 'button[data-action="cancel"]').click()
    accept_confirmation(browser)
    eventually(lambda: scene.producer.status(victim).state == "cancelled", "the cancel")
    eventually(lambda: "cancelled" in browser.find_element(By.ID, "job-state").text,
               "the page to show the cancel")


def test_requeue_a_dead_letter_and_see_it_run(browser, gateway_factory, scene, shot):
    g = gateway_factory(scene.queue)
    open_page(browser, f"{g.url}/queues/{scene.queue}/dead", "#dead")
    row = browser.find_element(By.CSS_SELECTOR, f'#dead tr[data-dead-id="{scene.dead}"]')
    assert "no such customer" in row.text and "doomed work" in row.text
    shot("dead-letters")
    row.find_element(By.CSS_SELECTOR, 'button[data-action="requeue"]').click()
    assert str(scene.dead) in accept_confirmation(browser), "no confirmation asked"
    eventually(lambda: not browser.find_elements(
        By.CSS_SELECTOR, f'#dead tr[data-dead-id="{scene.dead}"]'), "the letter to go")
    # It runs: a worker gets it as a new job with the same payload and type, and finishes it.
    with taskring.Worker(scene.queue, types=["doomed"]) as w:
        job = w.take(timeout=10)
        assert job is not None and job.payload == b"doomed work" and job.id != scene.dead
        w.complete(job, b"done this time")
    assert scene.producer.wait(job.id, timeout=10).state == "completed"
    open_page(browser, f"{g.url}/queues/{scene.queue}/jobs/{job.token}", "#job-state")
    assert browser.find_element(By.ID, "job-state").text.strip() == "completed"


def test_purge_one_dead_letter(browser, gateway_factory, scene):
    g = gateway_factory(scene.queue)
    open_page(browser, f"{g.url}/queues/{scene.queue}/dead", "#dead")
    row = browser.find_element(By.CSS_SELECTOR, f'#dead tr[data-dead-id="{scene.dead}"]')
    row.find_element(By.CSS_SELECTOR, 'button[data-action="purge"]').click()
    accept_confirmation(browser)
    eventually(lambda: stat(scene.queue)["dead_letters"] == 1, "the purge")
    assert browser.find_elements(By.CSS_SELECTOR, f'#dead tr[data-dead-id="{scene.evil}"]')


def test_payloads_types_and_errors_are_shown_as_text(browser, gateway_factory, scene, shot):
    g = gateway_factory(scene.queue)
    pages = [
        (f"{g.url}/", f'tr[data-queue="{scene.queue}"]'),
        (f"{g.url}/queues/{scene.queue}", "#failures"),
        (f"{g.url}/queues/{scene.queue}/dead", "#dead"),
        (f"{g.url}/queues/{scene.queue}/jobs/{scene.evil.token}", "#job-state"),
    ]
    with pytest.raises(taskring.InvalidArgument):
        scene.producer.enqueue(b"x", type=HTML_TYPE)
    running_token = scene.producer.status(scene.running).token
    pages.append((f"{g.url}/queues/{scene.queue}/jobs/{running_token}", "#job-state"))
    for url, ready in pages:
        open_page(browser, url, ready)
        time.sleep(0.3)  # an onerror handler would have fired by now
        assert_inert(browser)
    open_page(browser, f"{g.url}/queues/{scene.queue}/dead", "#dead")
    row = browser.find_element(By.CSS_SELECTOR, f'#dead tr[data-dead-id="{scene.evil}"]')
    text = row.text
    assert "<script>window.__pwned=1</script>" in text  # the payload, as text
    assert "<script>window.__pwned=3</script>" in text  # the error, as text
    assert not row.find_elements(By.TAG_NAME, "script")
    assert not row.find_elements(By.TAG_NAME, "img")
    assert not row.find_elements(By.TAG_NAME, "b")
    shot("escaping")


def test_read_only_gateway_disables_every_action(browser, gateway_factory, scene, shot):
    g = gateway_factory(scene.queue, "--read-only")
    open_page(browser, f"{g.url}/queues/{scene.queue}/dead", "#dead")
    buttons = browser.find_elements(By.CSS_SELECTOR, "button[data-action]")
    assert buttons, "no action buttons rendered"
    assert not any(b.is_enabled() for b in buttons)
    token = scene.producer.status(scene.idle[1]).token
    open_page(browser, f"{g.url}/queues/{scene.queue}/jobs/{token}", "#job-state")
    assert not browser.find_element(By.CSS_SELECTOR, 'button[data-action="cancel"]').is_enabled()
    shot("read-only")
