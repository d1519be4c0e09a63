"""HTTP benchmark: scim-me's hot paths against a bare Flask JSON route and against scim2-server,
same gunicorn command, same wrk load, in one run.

Run from the repository root with the project's virtualenv (``make bench`` does):

    .venv/bin/python bench/run.py [--duration 15] [--warmup 3] [--check-targets] [--smoke]

In one run it
1. checks that ``wrk`` is on PATH (Debian: ``apt-get install -y wrk``);
2. installs scim2-server (the python-scim reference server) into bench/.work/scim2-venv from the
   pinned, hashed bench/scim2-server.txt, unless that venv already matches the file;
3. serves, one after the other and never two at a time, with the identical gunicorn command
   (2 sync workers): the bare route (bench/bare_app.py), scim2-server's ``/v2/Me``
   (bench/scim2_server_app.py), scim-me on SQLite, the bare route again (the baseline is the
   mean of its two runs, as other load on the machine drifts) and, when PostgreSQL answers on
   ``SCIM_ME_BENCH_POSTGRES_URL`` (default the local cluster), scim-me on a fresh PostgreSQL
   database. Each scim-me instance is set up as bench/instance.py describes: the operator's CLI,
   then the users' own HTTP calls (password grant, MFA, consent, PATCH);
4. loads each scenario with wrk (2 threads, 16 connections; the refresh grant 16 threads, one
   connection each, since each chain of refresh tokens is sequential);
5. prints a markdown table and writes bench/results.json (``--output`` elsewhere), from which
   bench/readme_table.py renders the README's table.

``--smoke`` runs every scenario for one second without warm-up and writes to bench/.work: it
checks that the benchmark still runs end to end (``make test`` does this), not how fast.

Exit status: 1 if the setup failed, any request got a non-2xx/3xx answer or a scenario completed
no request; with ``--check-targets`` also 2 if a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from instance import REPO_ROOT  # noqa: E402
from instance import TENANT  # noqa: E402
from instance import BenchError  # noqa: E402
from instance import Operator  # noqa: E402
from instance import Tokens  # noqa: E402
from instance import instance_env  # noqa: E402
from instance import operator_setup  # noqa: E402
from instance import postgres_database  # noqa: E402
from instance import user_setup  # noqa: E402
from instance import venv_tool  # noqa: E402

WORK_DIR = BENCH_DIR / ".work"
RESULTS_JSON = BENCH_DIR / "results.json"
SCIM2_REQUIREMENTS = BENCH_DIR / "scim2-server.txt"
SCIM2_VENV = WORK_DIR / "scim2-venv"
PATCH_LUA = BENCH_DIR / "patch.lua"
REQUEST_LUA = BENCH_DIR / "request.lua"
REFRESH_LUA = BENCH_DIR / "refresh.lua"

WORKERS = 2
THREADS = 2
CONNECTIONS = 16
SCIM_JSON = "application/scim+json"

# Scenario names (the keys of results.json and of the README table).
BARE = "bare Flask GET"
BARE_AGAIN = "bare Flask GET, again"  # after scim-me on SQLite: the baseline is the mean of both
BARE_WRITE = "bare Flask PATCH, one durable SQLite write"  # the floor of any durable PATCH (bench/bare_app.py)
S2_GET = "scim2-server GET /Me"
S2_PATCH = "scim2-server PATCH /Me"
GET = "scim-me GET /Me"
PATCH = "scim-me PATCH /Me"
PG_GET = "scim-me GET /Me (PostgreSQL)"
PG_PATCH = "scim-me PATCH /Me (PostgreSQL)"
LARGE_GET = "scim-me GET /Me, 100 e-mails + 20 addresses"
SECURITY = "scim-me GET /api/users/v1/me/security"
CONSENTS = "scim-me GET consent receipts"
CLIENT_CREDENTIALS = "scim-me token, client_credentials"
REFRESH = "scim-me token, refresh_token"


@dataclass(frozen=True)
class Target:
    """``scenario``'s figure divided by ``baseline``'s must reach ``at_least`` (ratio of req/s),
    or, for ``kind == "tail"``, the scenario's p99 / p50 must stay at or below ``at_most``."""

    name: str
    scenario: str
    baseline: str | None
    at_least: float | None = None
    at_most: float | None = None
    kind: str = "throughput"


TARGETS = (
    Target("GET /Me ≥ 0.6x bare", GET, BARE, at_least=0.6),
    Target("PATCH /Me ≥ 0.4x bare", PATCH, BARE, at_least=0.4),
    Target("GET /Me ≥ 2x scim2-server", GET, S2_GET, at_least=2.0),
    Target("PATCH /Me ≥ 2x scim2-server", PATCH, S2_PATCH, at_least=2.0),
    Target("GET /Me on PostgreSQL ≥ 0.8x SQLite", PG_GET, GET, at_least=0.8),
    Target("PATCH /Me on PostgreSQL ≥ 0.8x SQLite", PG_PATCH, PATCH, at_least=0.8),
    Target("GET /Me p99 ≤ 3x p50", GET, None, at_most=3.0, kind="tail"),
    Target("PATCH /Me p99 ≤ 3x p50", PATCH, None, at_most=3.0, kind="tail"),
)


@dataclass
class WrkResult:
    name: str
    server: str
    method: str
    path: str
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
    threads: int
    connections: int


# --------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "?"


def postgres_version(url: str) -> str:
    """The server's version, and its autovacuum when off: PATCH leaves dead filter-index rows
    that only vacuum clears (docs/deployment.md), so such figures read low over a long run."""
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        version = str(cur.fetchone()[0])
        cur.execute("SHOW autovacuum")
        return version if cur.fetchone()[0] == "on" else f"{version}, autovacuum off"


def scim2_venv() -> Path:
    """bench/.work/scim2-venv with exactly bench/scim2-server.txt installed (hash-checked)."""
    stamp = SCIM2_VENV / ".requirements.sha256"
    wanted = hashlib.sha256(SCIM2_REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == wanted and (SCIM2_VENV / "bin" / "gunicorn").exists():
        return SCIM2_VENV
    print("installing scim2-server into bench/.work/scim2-venv ...", file=sys.stderr, flush=True)
    WORK_DIR.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(SCIM2_VENV)], check=True)
    proc = subprocess.run(
        [str(SCIM2_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "--require-hashes", "--no-deps", "-r", str(SCIM2_REQUIREMENTS)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise BenchError(f"installing scim2-server failed:\n{proc.stdout}{proc.stderr}")
    stamp.write_text(wanted + "\n")
    return SCIM2_VENV


# ------------------------------------------------------------------------------------- gunicorn


class Server:
    """One gunicorn master started by this script; always the same settings."""

    def __init__(self, app: str, port: int, env: dict[str, str], log: Path, gunicorn: str | None = None) -> None:
        self.app = app
        self.port = port
        self.env = env
        self.log_path = log
        self.gunicorn = gunicorn or venv_tool("gunicorn")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def args(self) -> list[str]:
        return [
            "--workers", str(WORKERS),
            "--worker-class", "sync",
            "--bind", f"127.0.0.1:{self.port}",
            "--log-level", "warning",
        ]  # fmt: skip

    def __enter__(self) -> Server:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [self.gunicorn, *self.args, self.app], cwd=REPO_ROOT, env=self.env, stdout=self._log, stderr=self._log
        )
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


@dataclass
class Load:
    """How one scenario is driven: the URL, and the wrk headers, script and environment."""

    url: str
    method: str = "GET"
    headers: dict[str, str] | None = None
    script: Path | None = None
    env: dict[str, str] | None = None
    threads: int = THREADS

    def command(self, wrk: str, seconds: int) -> list[str]:
        cmd = [wrk, f"-t{self.threads}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
        for key, value in (self.headers or {}).items():
            cmd += ["-H", f"{key}: {value}"]
        if self.script is not None:
            cmd += ["-s", str(self.script)]
        return [*cmd, self.url]


def wrk_run(wrk: str, load: Load, seconds: int) -> str:
    env = {**os.environ, **(load.env or {})}
    proc = subprocess.run(
        load.command(wrk, seconds), capture_output=True, text=True, env=env, check=False, timeout=seconds + 120
    )
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


class Bench:
    def __init__(self, wrk: str, duration: int, warmup: int) -> None:
        self.wrk = wrk
        self.duration = duration
        self.warmup = warmup
        self.results: list[WrkResult] = []

    def scenario(
        self, name: str, server: str, load: Load, probe: Callable[[], int], warmup: Load | None = None
    ) -> None:
        """Probe once (a broken setup fails with the server's own answer), warm up (with
        ``warmup`` when the load cannot be repeated), measure."""
        body_bytes = probe()
        load_before = os.getloadavg()[0]  # before the warm-up: what else was running
        if self.warmup > 0:
            wrk_run(self.wrk, warmup or load, self.warmup)
        print(f"  {name}: {self.duration} s of load ...", file=sys.stderr, flush=True)
        raw = wrk_run(self.wrk, load, self.duration)
        path = "/" + load.url.split("/", 3)[3]
        self.results.append(
            WrkResult(
                name=name, server=server, method=load.method, path=path, body_bytes=body_bytes,
                load_before=round(load_before, 2), threads=load.threads, connections=CONNECTIONS, **parse_wrk(raw),
            )
        )  # fmt: skip


def probe(method: str, url: str, **kwargs: Any) -> Callable[[], int]:
    def run() -> int:
        response = requests.request(method, url, timeout=30, **kwargs)
        if not 200 <= response.status_code < 300:
            raise BenchError(f"{method} {url} -> {response.status_code}: {response.text[:500]}")
        return len(response.content)

    return run


def patch_body(value: str) -> str:
    return json.dumps(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "nickName", "value": value}],
        }
    )


# ------------------------------------------------------------------------------------- servers


def measure_bare(bench: Bench, workdir: Path, name: str = BARE) -> None:
    port = free_port()
    print("bare Flask route:", file=sys.stderr, flush=True)
    env = {**os.environ, "BENCH_BARE_DB": str(workdir / f"bare-{port}.db")}
    with Server("bench.bare_app:app", port, env, workdir / f"gunicorn-bare-{port}.log"):
        url = f"http://127.0.0.1:{port}/me"
        bench.scenario(name, "bare", Load(url), probe("GET", url))
        if name == BARE:
            bench.scenario(
                BARE_WRITE, "bare",
                Load(url, "PATCH", script=PATCH_LUA, env={"BENCH_TOKEN": "unused"}),
                probe("PATCH", url, data=patch_body("probe"), headers={"Content-Type": SCIM_JSON}),
            )  # fmt: skip


def measure_scim2_server(bench: Bench, workdir: Path) -> None:
    venv = scim2_venv()
    port = free_port()
    print("scim2-server:", file=sys.stderr, flush=True)
    token = "scim2-server-bench-token"  # bench/scim2_server_app.py's static token
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME"))}
    with Server("bench.scim2_server_app:app", port, env, workdir / "gunicorn-scim2.log", str(venv / "bin/gunicorn")):
        url = f"http://127.0.0.1:{port}/v2/Me"
        auth = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}
        bench.scenario(S2_GET, "scim2-server", Load(url, headers=auth), probe("GET", url, headers=auth))
        bench.scenario(
            S2_PATCH, "scim2-server",
            Load(url, "PATCH", script=PATCH_LUA, env={"BENCH_TOKEN": token}),
            probe("PATCH", url, data=patch_body("probe"), headers={**auth, "Content-Type": SCIM_JSON}),
        )  # fmt: skip


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def measure_scim_me(bench: Bench, workdir: Path, database_url: str | None, *, full: bool) -> None:
    """scim-me on SQLite (``database_url`` None: a file in ``workdir``) or PostgreSQL; ``full``
    adds the scenarios measured for the record, besides GET and PATCH /Me."""
    label = "SQLite" if database_url is None else "PostgreSQL"
    instance_dir = workdir / label.lower()
    instance_dir.mkdir()
    port = free_port()
    env = instance_env(instance_dir, port, database_url)
    print(f"scim-me on {label}: setting up ...", file=sys.stderr, flush=True)
    operator: Operator = operator_setup(env)
    with Server("wsgi:app", port, env, instance_dir / "gunicorn.log"):
        base = f"http://127.0.0.1:{port}/t/{TENANT}"
        # The refresh scenario spends a chain per connection, and as many again in its warm-up.
        chains = (2 if bench.warmup else 1) * CONNECTIONS if full else 1
        tokens: Tokens = user_setup(base, operator, refresh_grants=chains)
        me = f"{base}/scim2/Me"
        auth = {"Authorization": f"Bearer {tokens.access}", "Accept": SCIM_JSON}
        get_name, patch_name = (GET, PATCH) if database_url is None else (PG_GET, PG_PATCH)
        bench.scenario(get_name, "scim-me", Load(me, headers=auth), probe("GET", me, headers=auth))
        bench.scenario(
            patch_name, "scim-me",
            Load(me, "PATCH", script=PATCH_LUA, env={"BENCH_TOKEN": tokens.access}),
            probe("PATCH", me, data=patch_body("probe"), headers={**auth, "Content-Type": SCIM_JSON}),
        )  # fmt: skip
        final = requests.get(me, headers=auth, timeout=30).json()
        if not str(final.get("nickName", "")).startswith("bench-"):
            raise BenchError(f"PATCH load left nickName={final.get('nickName')!r}; writes did not land")
        if not full:
            return
        large = {"Authorization": f"Bearer {tokens.large_access}", "Accept": SCIM_JSON}
        bench.scenario(LARGE_GET, "scim-me", Load(me, headers=large), probe("GET", me, headers=large))
        security = f"{base}/api/users/v1/me/security"
        plain = {"Authorization": f"Bearer {tokens.access}"}
        bench.scenario(SECURITY, "scim-me", Load(security, headers=plain), probe("GET", security, headers=plain))
        consents = f"{base}/api/identity/consent-mgt/v1.0/consents"
        bench.scenario(CONSENTS, "scim-me", Load(consents, headers=plain), probe("GET", consents, headers=plain))
        token_url = f"{base}/oauth2/token"
        admin = _basic(operator.admin.client_id, operator.admin.secret)
        form = "application/x-www-form-urlencoded"
        body = "grant_type=client_credentials&scope=internal_consent_mgt_view"
        bench.scenario(
            CLIENT_CREDENTIALS, "scim-me",
            Load(token_url, "POST", script=REQUEST_LUA, env={
                "BENCH_METHOD": "POST", "BENCH_BODY": body, "BENCH_CONTENT_TYPE": form, "BENCH_AUTHORIZATION": admin,
            }),
            probe("POST", token_url, data=body, headers={"Content-Type": form, "Authorization": admin}),
        )  # fmt: skip
        app = _basic(operator.app.client_id, operator.app.secret)

        def refresh(chains: list[str]) -> Load:
            env = {"BENCH_REFRESH_TOKENS": ",".join(chains), "BENCH_AUTHORIZATION": app}
            return Load(token_url, "POST", script=REFRESH_LUA, threads=CONNECTIONS, env=env)

        # A spent refresh token revokes its grant when used again: the warm-up has chains of its own.
        bench.scenario(
            REFRESH, "scim-me", refresh(tokens.refresh[:CONNECTIONS]),
            lambda: 0,  # a probe would spend a refresh token; the fixture's grants proved the endpoint
            warmup=refresh(tokens.refresh[CONNECTIONS:]),
        )  # fmt: skip


# -------------------------------------------------------------------------------------- report


def bare_rps(results: list[WrkResult]) -> float | None:
    """The baseline: the mean of the bare route's runs (before and after scim-me on SQLite), so a
    change of the machine's load during the run weighs on both sides alike."""
    runs = [r.rps for r in results if r.name in (BARE, BARE_AGAIN)]
    return sum(runs) / len(runs) if runs else None


def evaluate(results: list[WrkResult]) -> list[dict[str, Any]]:
    """Every target whose scenarios ran: the measured value and whether it is met."""
    by_name = {r.name: r for r in results}
    bare = bare_rps(results)
    checks = []
    for target in TARGETS:
        res = by_name.get(target.scenario)
        base_rps = (
            bare if target.baseline == BARE else by_name[target.baseline].rps if target.baseline in by_name else None
        )
        if res is None or (target.baseline and base_rps is None):
            continue
        if target.kind == "tail":
            value = res.p99_ms / res.p50_ms if res.p50_ms else float("inf")
            met = target.at_most is not None and value <= target.at_most
        else:
            assert base_rps is not None
            value = res.rps / base_rps if base_rps else 0.0
            met = target.at_least is not None and value >= target.at_least
        checks.append(
            {
                "name": target.name,
                "scenario": target.scenario,
                "baseline": target.baseline,
                "value": round(value, 3),
                "at_least": target.at_least,
                "at_most": target.at_most,
                "met": met,
            }
        )
    return checks


def document(results: list[WrkResult], meta: dict[str, Any]) -> dict[str, Any]:
    bare = bare_rps(results)
    rows = []
    for r in results:
        row = asdict(r)
        row["rps_ratio"] = round(r.rps / bare, 3) if bare else None
        rows.append(row)
    return {"meta": meta, "results": rows, "targets": evaluate(results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per scenario (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up load per scenario (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, server logs)")
    parser.add_argument("--check-targets", action="store_true", help="exit 2 if a target is missed")
    parser.add_argument("--output", type=Path, help="where to write the JSON results (default bench/results.json)")
    parser.add_argument("--smoke", action="store_true", help="1 s per scenario, no warm-up: does it still run?")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL instance")
    parser.add_argument("--core", action="store_true", help="only GET and PATCH /Me (and their baselines), SQLite")
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.warmup = 1, 0
    output: Path = args.output or (WORK_DIR / "results-smoke.json" if args.smoke else RESULTS_JSON)

    import shutil

    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not on PATH. Install it (Debian/Ubuntu): apt-get install -y wrk", file=sys.stderr)
        return 1

    workdir = Path(tempfile.mkdtemp(prefix="scim-me-bench-"))
    keep = args.keep
    bench = Bench(wrk, args.duration, args.warmup)
    started = dt.datetime.now(dt.UTC)
    pg_version = None
    try:
        measure_bare(bench, workdir)
        measure_scim2_server(bench, workdir)
        measure_scim_me(bench, workdir, None, full=not args.core)
        measure_bare(bench, workdir, BARE_AGAIN)
        if not (args.no_postgres or args.core):
            with postgres_database() as pg_url:
                if pg_url is None:
                    print("PostgreSQL is not reachable: its scenarios are skipped", file=sys.stderr)
                else:
                    pg_version = postgres_version(pg_url)
                    measure_scim_me(bench, workdir, pg_url, full=False)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        print(f"(databases and server logs kept in {workdir})", file=sys.stderr)
        keep = True
        return 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPU(s), {cpu_model()}",
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "gunicorn": version_of("gunicorn"),
        "flask": version_of("flask"),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "scim2_server": _scim2_version(),
        "wrk": wrk_version(wrk),
        "gunicorn_args": f"--workers {WORKERS} --worker-class sync",
        "wrk_args": f"-t{THREADS} -c{CONNECTIONS} -d{args.duration}s --latency (refresh grant: -t{CONNECTIONS})",
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "smoke": args.smoke,
        "command": "bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    doc = document(bench.results, meta)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    from readme_table import render

    print(render(doc))
    print(f"\nwrote {output}", file=sys.stderr)

    bad = [r for r in bench.results if r.non_2xx or r.requests == 0]
    for r in bad:
        print(f"FAIL: {r.name}: {r.non_2xx} non-2xx responses of {r.requests}", file=sys.stderr)
    if bad:
        return 1
    if args.check_targets and not all(check["met"] for check in doc["targets"]):
        return 2
    return 0


def _scim2_version() -> str:
    for line in SCIM2_REQUIREMENTS.read_text().splitlines():
        if line.startswith("scim2-server=="):
            return line.split("==")[1].split()[0]
    return "?"


if __name__ == "__main__":
    sys.exit(main())
