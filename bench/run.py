"""HTTP benchmark: scim-me's /Me against a bare Flask JSON route, same gunicorn, same load.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/run.py [--duration 15] [--warmup 3] [--check-targets]

In one run it
1. checks that ``wrk`` is on PATH (Debian: ``apt-get install -y wrk``); it installs nothing;
2. creates a temporary directory with a fresh SQLite database and master key through the
   ``scim-me`` CLI, a tenant ``bench`` and a user ``bench``, and mints a bearer token;
3. starts gunicorn for ``bench.bare_app:app``, loads it, stops it; then starts gunicorn for
   ``wsgi:app`` with the identical command line and loads GET and a one-operation PATCH of
   ``/t/bench/scim2/Me``. The servers never run at the same time;
4. prints a markdown table (req/s, p50, p99, each as a ratio of the bare route) and writes
   ``bench/results.json``.

Exit status: 1 if any request got a non-2xx/3xx answer (or a scenario completed no request);
with ``--check-targets`` also 2 if a throughput target is missed
(GET >= 0.5x bare, PATCH >= 0.3x bare).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PATCH_LUA = BENCH_DIR / "patch.lua"
RESULTS_JSON = BENCH_DIR / "results.json"

TENANT = "bench"
USER = "bench"
PASSWORD = "bench-password-2026"  # only used to create the user; the load uses a bearer token
WORKERS = 2
THREADS = 2
CONNECTIONS = 16
TARGETS = {"scim-me GET /Me": 0.5, "scim-me PATCH /Me": 0.3}
PATCH_BODY = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "nickName", "value": "bench"}],
}


class BenchError(RuntimeError):
    """The benchmark could not run or produced invalid results."""


@dataclass
class WrkResult:
    name: str
    url: str
    method: str
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int]
    body_bytes: int
    load_before: float
    raw: str


# --------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_tool(name: str) -> str:
    """The console script ``name`` next to the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"{name} not found next to {sys.executable} or on PATH; run with the project's venv")
    return found


def run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        return int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return len(os.sched_getaffinity(0))


def version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "?"


# ---------------------------------------------------------------------------------- scim-me setup


def prepare_instance(workdir: Path, port: int) -> tuple[dict[str, str], str]:
    """Fresh database + key + tenant + user in ``workdir``; return the server env and a token."""
    env = dict(os.environ)
    env.update(
        {
            "SCIM_ME_CONFIG": "/nonexistent",
            "SCIM_ME_DATABASE_URL": f"sqlite:///{workdir / 'scim-me.db'}",
            "SCIM_ME_ENCRYPTION_KEY_FILE": str(workdir / "encryption.key"),
            "SCIM_ME_BASE_URL": f"http://127.0.0.1:{port}",
            "SCIM_ME_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("SCIM_ME_ENCRYPTION_KEY", None)
    cli = venv_tool("scim-me")
    run([cli, "keys", "init"], env)
    run([cli, "db", "upgrade"], env)
    run([cli, "tenant", "create", TENANT], env)
    run([cli, "user", "create", "--tenant", TENANT, "--username", USER, "--password", PASSWORD], env)
    token = run([cli, "token", "--tenant", TENANT, "--user", USER], env).strip()
    if not token or " " in token:
        raise BenchError(f"unexpected token output: {token!r}")
    return env, token


# ------------------------------------------------------------------------------------- gunicorn


class Server:
    """One gunicorn master started by this script; always the same settings."""

    def __init__(self, app: str, port: int, env: dict[str, str], log: Path) -> None:
        self.app = app
        self.port = port
        self.env = env
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        return [
            venv_tool("gunicorn"),
            "--workers", str(WORKERS),
            "--worker-class", "sync",
            "--bind", f"127.0.0.1:{self.port}",
            "--log-level", "warning",
            self.app,
        ]  # fmt: skip

    def __enter__(self) -> Server:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.command, cwd=REPO_ROOT, env=self.env, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn {self.app} exited early:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"gunicorn {self.app} did not listen on port {self.port} within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ------------------------------------------------------------------------------------------ wrk

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _latency_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise BenchError(f"cannot parse wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/sec, latency percentiles, request count, non-2xx and socket errors from wrk --latency."""

    def need(pattern: str) -> re.Match[str]:
        found = re.search(pattern, output, re.MULTILINE)
        if found is None:
            raise BenchError(f"wrk output lacks {pattern!r}:\n{output}")
        return found

    percentiles = {pct: _latency_ms(need(rf"^\s*{pct}%\s+(\S+)\s*$").group(1)) for pct in ("50", "75", "90", "99")}
    done = need(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(done.group(1)),
        "duration_s": float(done.group(2)) * _UNITS_MS[done.group(3)] / 1000.0,
        "rps": float(need(r"^Requests/sec:\s+([\d.]+)").group(1)),
        "p50_ms": percentiles["50"],
        "p75_ms": percentiles["75"],
        "p90_ms": percentiles["90"],
        "p99_ms": percentiles["99"],
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": dict(
            zip(("connect", "read", "write", "timeout"), (int(g) for g in sock.groups()), strict=True)
        )
        if sock
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0},
    }


def wrk_run(
    wrk: str,
    url: str,
    duration: int,
    *,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    cmd = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=duration + 120)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def scenario(
    name: str, wrk: str, url: str, method: str, duration: int, warmup: int, body_bytes: int, **kwargs: Any
) -> WrkResult:
    load_before = os.getloadavg()[0]  # before the warm-up: what else was running on the machine
    if warmup > 0:
        wrk_run(wrk, url, warmup, **kwargs)
    print(f"  {name}: {duration} s of load ...", file=sys.stderr, flush=True)
    raw = wrk_run(wrk, url, duration, **kwargs)
    return WrkResult(
        name=name, url=url, method=method, body_bytes=body_bytes, load_before=load_before, raw=raw, **parse_wrk(raw)
    )


def probe(method: str, url: str, **kwargs: Any) -> int:
    """One request before the load, so a broken setup fails with the server's own answer."""
    response = requests.request(method, url, timeout=10, **kwargs)
    if not 200 <= response.status_code < 300:
        raise BenchError(f"{method} {url} -> {response.status_code}: {response.text[:500]}")
    return len(response.content)


# -------------------------------------------------------------------------------------- report


def _fmt_ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def report(results: list[WrkResult], meta: dict[str, Any]) -> tuple[str, dict[str, bool]]:
    bare = results[0]
    lines = [
        f"# scim-me HTTP benchmark — {meta['date']}",
        "",
        f"- host: {meta['nproc']} CPU(s) (`nproc`), {meta['cpu_model']}",
        f"- python {meta['python']}, gunicorn {meta['gunicorn']}, Flask {meta['flask']}, "
        f"SQLite {meta['sqlite']}, {meta['wrk']}",
        f"- gunicorn `{meta['gunicorn_args']}` (no access log), one server at a time",
        f"- wrk `-t{THREADS} -c{CONNECTIONS} -d{meta['duration_s']}s --latency` after a {meta['warmup_s']} s warm-up",
        "",
        "| scenario | req/s | p50 | p99 | req/s x bare | p50 x bare | p99 x bare | target | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    verdicts: dict[str, bool] = {}
    for res in results:
        ratio = res.rps / bare.rps if bare.rps else 0.0
        target = TARGETS.get(res.name)
        if target is None:
            verdict = "baseline"
        else:
            verdicts[res.name] = ratio >= target
            verdict = f"≥ {target}x {'met' if ratio >= target else '**MISSED**'}"
        errors = sum(res.socket_errors.values())
        lines.append(
            f"| {res.name} | {res.rps:,.0f} | {_fmt_ms(res.p50_ms)} | {_fmt_ms(res.p99_ms)} | {ratio:.2f} | "
            f"{res.p50_ms / bare.p50_ms:.2f} | {res.p99_ms / bare.p99_ms:.2f} | {verdict} | {res.non_2xx} | "
            f"{errors}{'' if not errors else ' ' + json.dumps(res.socket_errors)} |"
        )
    lines += [
        "",
        "req/s x bare = scim-me throughput ÷ bare throughput (higher is better); "
        "p50/p99 x bare = scim-me latency ÷ bare latency (lower is better).",
        "Response bodies: " + ", ".join(f"{r.name} {r.body_bytes} B" for r in results) + ".",
        "1-min load average before each scenario (other processes on the machine skew the ratios): "
        + ", ".join(f"{r.name} {r.load_before:.2f}" for r in results)
        + ".",
    ]
    if any(r.load_before > 0.5 for r in results):
        lines.append(
            f"**Warning:** the machine was not idle (load average up to {max(r.load_before for r in results):.2f} "
            f"on {meta['nproc']} CPUs); rerun on a quiet machine for trustworthy ratios."
        )
    return "\n".join(lines), verdicts


# ---------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per scenario (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up load per scenario (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server logs)")
    parser.add_argument("--check-targets", action="store_true", help="exit 2 if a throughput target is missed")
    parser.add_argument("--output", type=Path, default=RESULTS_JSON, help="where to write the JSON results")
    args = parser.parse_args(argv)

    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not on PATH. Install it (Debian/Ubuntu): apt-get install -y wrk", file=sys.stderr)
        return 1

    workdir = Path(tempfile.mkdtemp(prefix="scim-me-bench-"))
    keep = args.keep
    try:
        bare_port, app_port = free_port(), free_port()
        print(f"setting up a fresh instance in {workdir} ...", file=sys.stderr, flush=True)
        env, token = prepare_instance(workdir, app_port)
        results: list[WrkResult] = []

        print("bare Flask route:", file=sys.stderr, flush=True)
        with Server("bench.bare_app:app", bare_port, env, workdir / "gunicorn-bare.log") as bare_server:
            url = f"http://127.0.0.1:{bare_port}/me"
            size = probe("GET", url)
            results.append(scenario("bare Flask GET", wrk, url, "GET", args.duration, args.warmup, size))
            gunicorn_args = " ".join(bare_server.command[1:-1]).replace(str(bare_port), "PORT")

        print("scim-me:", file=sys.stderr, flush=True)
        with Server("wsgi:app", app_port, env, workdir / "gunicorn-scim-me.log"):
            url = f"http://127.0.0.1:{app_port}/t/{TENANT}/scim2/Me"
            auth = {"Authorization": f"Bearer {token}"}
            size = probe("GET", url, headers={**auth, "Accept": "application/scim+json"})
            results.append(
                scenario(
                    "scim-me GET /Me",
                    wrk,
                    url,
                    "GET",
                    args.duration,
                    args.warmup,
                    size,
                    headers={**auth, "Accept": "application/scim+json"},
                )
            )
            size = probe(
                "PATCH",
                url,
                data=json.dumps(PATCH_BODY),
                headers={**auth, "Content-Type": "application/scim+json", "Accept": "application/scim+json"},
            )
            results.append(
                scenario(
                    "scim-me PATCH /Me", wrk, url, "PATCH", args.duration, args.warmup, size,
                    script=PATCH_LUA, env={**os.environ, "BENCH_TOKEN": token},
                )
            )  # fmt: skip
            # The last PATCH must be visible: each request wrote a distinct nickName.
            final = requests.get(url, headers=auth, timeout=10).json()
            if not str(final.get("nickName", "")).startswith("bench-"):
                raise BenchError(f"PATCH load left nickName={final.get('nickName')!r}; writes did not land")
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        print(f"(database and server logs kept in {workdir})", file=sys.stderr)
        keep = True
        return 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "nproc": nproc(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "gunicorn": version_of("gunicorn"),
        "flask": version_of("flask"),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version(wrk),
        "gunicorn_args": gunicorn_args,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    }
    table, verdicts = report(results, meta)
    print(table)
    bare = results[0]
    args.output.write_text(
        json.dumps(
            {
                "meta": meta,
                "targets": TARGETS,
                "targets_met": verdicts,
                "results": [
                    {**asdict(r), "rps_ratio": r.rps / bare.rps, "p50_ratio": r.p50_ms / bare.p50_ms,
                     "p99_ratio": r.p99_ms / bare.p99_ms}
                    for r in results
                ],
            },
            indent=2,
        )
        + "\n"
    )  # fmt: skip
    print(f"\nwrote {args.output}", file=sys.stderr)

    bad = [r for r in results if r.non_2xx or r.requests == 0]
    if bad:
        for r in bad:
            print(f"FAIL: {r.name}: {r.non_2xx} non-2xx responses of {r.requests}", file=sys.stderr)
        return 1
    if args.check_targets and not all(verdicts.values()):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
