"""The wheel is what an operator installs: built from the sources alone, installed into a fresh
venv outside the checkout, it creates its database, serves under gunicorn and answers /scim2/Me
with the shipped schemas (issue 13, acceptance 1).

Offline by construction: the wheel is built with the locked setuptools already in this venv
(``--no-build-isolation --no-index``), and the fresh venv gets the locked runtime dependencies by a
``.pth`` line naming this venv's site-packages (tests/test_lock.py proves those are the locked
versions), written after the wheel is installed so pip never sees the checkout's editable install.
Nothing of the checkout is importable there: the test asserts where scim_me was imported from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path
from shutil import copytree
from shutil import ignore_patterns

import pytest
import requests

from tests.support.live_server import loopback_listener
from tests.support.live_server import port_of
from tests.support.live_server import tail

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# What a source distribution holds; nothing else of the checkout reaches the wheel.
SOURCES = ("scim_me", "schemas", "setup.cfg", "pyproject.toml", "README.md")
TIMEOUT_S = 180


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, **kwargs)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            copytree(origin, source / name, ignore=ignore_patterns("__pycache__", "*.pyc"))
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes(origin.read_bytes())
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    run([*pip, "--wheel-dir", str(dist), str(source)])
    (wheel,) = dist.glob("scim_me-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index"]
    run([*pip, str(wheel)])
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (purelib / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return venv


def operator_env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_ME_") and k != "PYTHONPATH"}
    env.update(
        SCIM_ME_BASE_URL=base_url,
        SCIM_ME_ARGON2_MEMORY_KIB="1024",
        SCIM_ME_ARGON2_TIME_COST="1",
        SCIM_ME_ARGON2_PARALLELISM="1",
    )
    return env


def test_the_wheel_ships_schemas_and_templates_and_serves_me(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "scim_me/bundled_schemas/core-user.json",
        "scim_me/bundled_schemas/self-service.json",
        "scim_me/bundled_schemas/custom/README.md",
        "scim_me/templates/signin.html",
        "scim_me/storage/migrations/steps/__init__.py",
        "scim_me/openapi/assets/docs.js",  # the API reference page's start-up script
    } <= names
    venv = fresh_venv(tmp_path, wheel)
    python, scim_me = venv / "bin" / "python", venv / "bin" / "scim-me"
    workdir = tmp_path / "operator"  # the operator's working directory: instance/ is created here
    workdir.mkdir()
    listener = loopback_listener()
    base_url = f"http://127.0.0.1:{port_of(listener)}"
    env = operator_env(base_url)

    where = run([str(python), "-c", "import scim_me; print(scim_me.__file__)"], env=env, cwd=workdir).stdout
    assert Path(where.strip()).is_relative_to(venv), where

    for args in (
        ["keys", "init"],
        ["db", "upgrade"],
        ["tenant", "create", "acme"],
        ["user", "create", "--tenant", "acme", "--username", "kim", "--password", "correct-horse-9"],
    ):
        run([str(scim_me), *args], env=env, cwd=workdir)
    assert (workdir / "instance" / "scim-me.db").is_file()
    token = run([str(scim_me), "token", "--tenant", "acme", "--user", "kim"], env=env, cwd=workdir).stdout.strip()

    log_path = workdir / "gunicorn.log"
    command = [str(python), "-m", "gunicorn", "scim_me:create_app()", "--workers", "2"]
    command += ["--bind", f"fd://{listener.fileno()}", "--no-control-socket"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),)
        )
    listener.close()
    try:
        response = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = requests.get(
                    f"{base_url}/t/acme/scim2/Me", headers={"Authorization": f"Bearer {token}"}, timeout=5
                )
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert response is not None, tail(log_path)
        assert response.status_code == 200, (response.text, tail(log_path))
        assert response.json()["userName"] == "kim"
        # The schemas were loaded from the package data (an empty registry would list none).
        schemas = requests.get(
            f"{base_url}/t/acme/scim2/Schemas", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).json()
        assert any(entry["id"] == "urn:ietf:params:scim:schemas:core:2.0:User" for entry in schemas)
        # The sign-in pages render from the packaged templates (here: the error page, no client).
        page = requests.get(f"{base_url}/t/acme/oauth2/authorize", timeout=5)
        assert page.status_code == 400, (page.text, tail(log_path))
        assert page.text.startswith("<!doctype html>") and "</html>" in page.text
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
