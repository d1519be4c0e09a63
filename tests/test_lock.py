"""The environment under test is the locked one: every pinned package is installed at its pinned
version, and every dependency setup.cfg declares is pinned (so `make lock` was run after editing it)."""

from __future__ import annotations

import configparser
import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)", re.MULTILINE)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    return {canonical(name): version for name, version in PIN.findall((ROOT / "requirements.lock").read_text())}


def declared() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    for extra in ("test", "dev"):
        lines += config["options.extras_require"][extra].splitlines()
    return {canonical(re.split(r"[\[<>=!~ ;]", line.strip(), maxsplit=1)[0]) for line in lines if line.strip()}


def test_every_declared_dependency_is_pinned() -> None:
    missing = sorted(declared() - set(locked()))
    assert missing == [], f"setup.cfg names {missing} but requirements.lock does not pin them: run `make lock`"


def test_the_installed_versions_are_the_locked_ones() -> None:
    drift = {}
    for name, version in locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            drift[name] = (version, installed)
    assert drift == {}, f"(locked, installed) differ: {drift}; run `make install`"


# security.md T-DEP-2: the versions with the fixes and profiles the design relies on (authlib's
# PKCE and JWT fixes, pyotp's constant-time verify and RFC 6238 defaults, argon2-cffi's RFC 9106
# profiles). setup.cfg may not allow older, and the lock may not pin older.
SECURITY_FLOORS = {"authlib": "1.7.1", "pyotp": "2.12", "argon2-cffi": "21.2"}


def test_security_sensitive_dependencies_are_at_least_their_floor() -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared_minimums = {}
    for line in config["options"]["install_requires"].splitlines():
        if line.strip():
            requirement = Requirement(line.strip())
            lows = [Version(spec.version) for spec in requirement.specifier if spec.operator in (">=", "==", "~=")]
            declared_minimums[canonical(requirement.name)] = max(lows) if lows else None
    pins = locked()
    for name, floor in SECURITY_FLOORS.items():
        low = declared_minimums.get(name)
        assert low is not None and low >= Version(floor), f"setup.cfg allows {name} below {floor}"
        assert Version(pins[name]) >= Version(floor), f"requirements.lock pins {name} {pins[name]} < {floor}"
