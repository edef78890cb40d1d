"""Fixtures for the web page tests: a real taskringd (python/tests/conftest.py's Daemon), a real
`taskring http` in front of it, and Debian's chromium driven headless through chromedriver.

Screenshots go to TASKRING_SCREENSHOTS (default: build/web-screenshots).
"""

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TASKRING_BIN", ROOT / "build"))
SHOTS = Path(os.environ.get("TASKRING_SCREENSHOTS", BIN / "web-screenshots"))

# The Python package's daemon fixture, loaded under its own name (both files are conftest.py).
_spec = importlib.util.spec_from_file_location(
    "taskring_py_conftest", ROOT / "python" / "tests" / "conftest.py"
)
_py_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_py_conftest)
Daemon = _py_conftest.Daemon
daemon_factory = _py_conftest.daemon_factory


class Gateway:
    """`taskring http` on a free loopback port, stopped by PID."""

    def __init__(self, queue: str, *args: str):
        self.proc = subprocess.Popen(
            [str(BIN / "taskring"), "http", "--listen", "127.0.0.1:0", "--queue", queue, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (http://\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"taskring http did not start: {line!r} {self.proc.stderr.read()}")
        self.url = m.group(1)

    def stop(self):
        _py_conftest.stop_process(self.proc)


@pytest.fixture
def gateway_factory():
    started = []

    def make(queue: str, *args: str) -> Gateway:
        g = Gateway(queue, *args)
        started.append(g)
        return g

    yield make
    for g in started:
        g.stop()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_browser(width: int = 1280, height: int = 900):
    """Headless chromium through chromedriver (Debian's packages); raises when they are missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver = _chromium(), shutil.which("chromedriver")
    if binary is None or driver is None:
        raise RuntimeError("chromium and chromedriver are needed (tools/setup.sh installs "
                           "Debian's chromium, chromium-driver and python3-selenium)")
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    b = webdriver.Chrome(service=Service(driver), options=options)
    b.set_page_load_timeout(30)
    return b


def save_full_page(browser, path: Path, width: int = 1280) -> Path:
    """A screenshot of the whole page, not the first 900 px: the window grows to the document."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, min(max(int(height) + 40, 600), 4000))
    browser.save_screenshot(str(path))
    browser.set_window_size(width, 900)
    return path


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session (a start costs 2–3 s)."""
    try:
        b = start_browser()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield b
    b.quit()


@pytest.fixture
def shot(browser):
    """shot(name): saves a screenshot of the page as it is now."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        return save_full_page(browser, SHOTS / f"{name}.png")

    return take
