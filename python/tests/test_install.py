"""The README's install command works offline: a venv that sees Debian's packages, then
pip install --no-build-isolation of python/ (no index, so nothing can be downloaded)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def test_pip_installs_the_package_offline_into_a_venv(tmp_path, daemon):
    # A copy: pip builds in place and would leave build/ and an .egg-info in the checkout.
    source = tmp_path / "src"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info",
                                                                   "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True
    )
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    build = subprocess.run(
        [str(py), "-m", "pip", "install", "--no-build-isolation", "--no-index", "--quiet",
         str(source)],
        env=env, capture_output=True, text=True, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    code = (
        "import taskring, sys\n"
        "assert taskring.__file__.startswith(sys.prefix), taskring.__file__\n"
        f"p = taskring.Producer({daemon.queue!r})\n"
        "print(int(p.enqueue(b'from the venv')) > 0, taskring.library_version())\n"
    )
    run = subprocess.run([str(py), "-c", code], env=env, capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("True ")
