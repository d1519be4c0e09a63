"""Several scim-me instances behind HAProxy over one PostgreSQL database, as docs/deployment.md
describes: each instance is gunicorn (2 workers, scim-me's hooks) started with
``scim-me db upgrade && exec gunicorn`` at the same moment as the others, all reading one generated
configuration file and one master key; HAProxy runs the configuration printed in
docs/deployment.md (its ``# TLS`` lines dropped, its ``bind`` and ``server`` lines replaced).

Used by tests/cluster.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
import requests

from scim_me.config import new_master_key
from tests.support.ci import system_binary
from tests.support.live_server import ACCESS_LOG_FORMAT
from tests.support.live_server import REPO_ROOT
from tests.support.live_server import LiveServer
from tests.support.live_server import _gunicorn_command
from tests.support.live_server import cli_command
from tests.support.live_server import loopback_listener
from tests.support.live_server import port_of
from tests.support.live_server import spawn_in_group
from tests.support.live_server import tail
from tests.support.mailserver import MailSink

DEPLOYMENT_DOC = REPO_ROOT / "docs" / "deployment.md"
_HAPROXY_BLOCK = re.compile(r"^```haproxy\n(.*?)^```", re.MULTILINE | re.DOTALL)
INSTANCES = 3
STARTUP_DEADLINE_S = 60.0
METRICS_TOKEN = "cluster-metrics-token-0123456789"
TENANT = "acme"


def haproxy_binary() -> str | None:
    return system_binary("haproxy")


def haproxy_template() -> str:
    """The HAProxy configuration block of docs/deployment.md."""
    match = _HAPROXY_BLOCK.search(DEPLOYMENT_DOC.read_text(encoding="utf-8"))
    assert match, f"{DEPLOYMENT_DOC} has no ```haproxy block"
    return match.group(1)


def haproxy_config(template: str, bind: str, servers: list[tuple[str, int]]) -> str:
    """``template`` without its ``# TLS`` lines, its first ``bind`` replaced by ``bind`` and its
    ``server`` lines by ``servers`` (name, loopback port)."""
    lines: list[str] = []
    bound = placed = False
    for line in template.splitlines():
        stripped = line.strip()
        if line.rstrip().endswith("# TLS") and not stripped.startswith("bind "):
            continue
        if stripped.startswith("bind "):
            if not bound:
                lines.append(f"    bind {bind}")
                bound = True
            continue
        if stripped.startswith("server "):
            if not placed:
                lines += [f"    server {name} 127.0.0.1:{port}" for name, port in servers]
                placed = True
            continue
        lines.append(line)
    assert bound and placed, "the deployment doc's HAProxy block has no bind or no server lines"
    return "\n".join(lines) + "\n"


@dataclass
class Instance:
    """One gunicorn instance (arbiter + 2 workers) in its own process group."""

    name: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "gunicorn.log"

    def answered(self, user_agent_prefix: str) -> list[int]:
        """The statuses this instance answered to requests whose User-Agent starts with the prefix."""
        path = self.workdir / "access.log"
        statuses = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []:
            _pid, _, rest = line.partition(" ")
            status, _, agent = rest.partition(" ")
            if agent.startswith(user_agent_prefix) and status.isdigit():
                statuses.append(int(status))
        return statuses

    def group_pids(self) -> list[int]:
        """The processes of the instance's process group: the arbiter and its workers."""
        assert self.proc is not None
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # field 5 of stat: the process group
                found.append(int(stat.parent.name))
        return found

    def kill_9(self) -> None:
        """SIGKILL to the arbiter and its workers at once; returns when none of them runs."""
        assert self.proc is not None
        pids = self.group_pids()
        assert self.proc.pid in pids and len(pids) >= 3, pids
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(pid) for pid in pids):
            time.sleep(0.01)
        assert not any(_running(pid) for pid in pids), pids

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then wait; kill what is still there after 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        self.wait()

    def wait(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _running(pid: int) -> bool:
    """Whether any thread of process ``pid`` still runs. A process whose main thread is a zombie
    may still have threads exiting (a worker's mail sender), and they hold its files, the
    listening socket included, until the last one is gone."""
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            if stat.read_text().rpartition(")")[2].split()[0] != "Z":
                return True
        except OSError:
            continue
    return False


_HTTPLOG = re.compile(r' \d+/\d+/\d+/\d+/(?P<retries>\+?\d+) \d+/\d+ "(?P<method>[A-Z]+) ')


@dataclass
class Cluster:
    """The load balancer's URL (``lb``: a LiveServer whose CLI reaches the shared database), the
    instances, the mail sink and the database URL."""

    lb: LiveServer
    instances: list[Instance]
    mail: MailSink
    database_url: str
    haproxy_config: str
    upgrade_outputs: list[str] = field(default_factory=list)

    def sent_again(self, method: str) -> int:
        """How many ``method`` requests HAProxy logged as retried (httplog's retries field, after
        actconn/feconn/beconn/srv_conn; ``+`` when redispatched to another server)."""
        text = self.lb.log_path.read_text(encoding="utf-8", errors="replace")
        found = 0
        for line in text.splitlines():
            match = _HTTPLOG.search(line)
            if match and match["method"] == method and match["retries"].lstrip("+") not in ("", "0"):
                found += 1
        return found

    def answered_by(self, user_agent_prefix: str) -> dict[str, list[int]]:
        return {i.name: i.answered(user_agent_prefix) for i in self.instances if i.answered(user_agent_prefix)}


def _wait_for(url: str, proc: subprocess.Popen[bytes], log_path: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    last = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} during startup:\n{tail(log_path)}")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    pytest.fail(f"{what} not ready within {STARTUP_DEADLINE_S:.0f}s ({last}):\n{tail(log_path)}")


def _config_file(workdir: Path, database_url: str, base_url: str, mail: MailSink) -> Path:
    """The one configuration file every instance (and the CLI) reads."""
    key_file = workdir / "encryption.key"
    key_file.write_text(new_master_key() + "\n", encoding="ascii")
    key_file.chmod(0o600)
    settings = {
        "database_url": database_url,
        "base_url": base_url,
        "encryption_key_file": str(key_file),
        "trusted_proxies": ["127.0.0.1"],
        "metrics_token": METRICS_TOKEN,
        "log_format": "json",
        "mail_transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": mail.port,
        "smtp_security": "none",
        "mail_poll_seconds": 1,
        # Cheap hashes: the suite counts them, it does not need them slow.
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "argon2_parallelism": 1,
        # The guesses all come from 127.0.0.1 (forwarded by HAProxy); the account lock is tested.
        "login_ip_max_failures": 1000,
    }
    lines = []
    for key, value in settings.items():
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(_toml_string(v) for v in value)}]")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {_toml_string(str(value))}")
    path = workdir / "scim-me.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _environment(config: Path, **extra: str) -> dict[str, str]:
    """The process environment without the caller's SCIM_ME_* settings: the file is the config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_ME_")}
    return {**env, "SCIM_ME_CONFIG": str(config), "PYTHONUNBUFFERED": "1", **extra}


def _start_instance(instance: Instance, listener: socket.socket, config: Path) -> None:
    """``scim-me db upgrade && exec gunicorn``: what a deploy script on each node runs."""
    instance.workdir.mkdir(parents=True, exist_ok=True)
    access = ["--access-logfile", str(instance.workdir / "access.log"), "--access-logformat", ACCESS_LOG_FORMAT]
    gunicorn = _gunicorn_command(listener.fileno(), "-c", "python:scim_me.gunicorn_conf", *access)
    script = f"{shlex.join(cli_command())} db upgrade && exec {shlex.join(gunicorn)}"
    env = _environment(config, PROMETHEUS_MULTIPROC_DIR=str(instance.workdir / "metrics"))
    instance.proc = spawn_in_group(["sh", "-c", script], env, instance.log_path, listener)


@contextmanager
def launch_cluster(workdir: Path, database_url: str, haproxy: str) -> Iterator[Cluster]:
    """Start the instances at once, then the demo seed, then HAProxy; stop everything on exit."""
    with ExitStack() as stack:
        mail = MailSink().start()
        stack.callback(mail.stop)
        lb_listener = loopback_listener()
        stack.callback(lb_listener.close)  # a no-op once HAProxy holds it and this copy is closed
        lb_url = f"http://127.0.0.1:{port_of(lb_listener)}"
        config = _config_file(workdir, database_url, lb_url, mail)
        listeners = [loopback_listener() for _ in range(INSTANCES)]
        for listener in listeners:
            stack.callback(listener.close)
        instances = [
            Instance(f"node{n + 1}", port_of(listener), workdir / f"node{n + 1}")
            for n, listener in enumerate(listeners)
        ]

        def stop_instances() -> None:  # all at once: each graceful stop takes seconds
            for instance in instances:
                if instance.proc is not None and instance.proc.poll() is None:
                    instance.proc.terminate()
            for instance in instances:
                instance.wait()

        stack.callback(stop_instances)
        for instance, listener in zip(instances, listeners, strict=True):
            _start_instance(instance, listener, config)
        for instance in instances:
            assert instance.proc is not None
            _wait_for(f"{instance.base_url}/ready", instance.proc, instance.log_path, instance.name)

        cli_env = _environment(config)
        lb = LiveServer(base_url=lb_url, env=cli_env, workdir=workdir, log_path=workdir / "haproxy.log")
        text = haproxy_config(haproxy_template(), f"fd@{lb_listener.fileno()}", [(i.name, i.port) for i in instances])
        (workdir / "haproxy.cfg").write_text(text, encoding="utf-8")
        check = subprocess.run(
            [haproxy, "-c", "-f", str(workdir / "haproxy.cfg")],
            capture_output=True,
            text=True,
            pass_fds=(lb_listener.fileno(),),
            check=False,
        )
        assert check.returncode == 0, f"haproxy -c refused the generated configuration:\n{check.stdout}{check.stderr}"
        with lb.log_path.open("ab") as log:
            proxy = subprocess.Popen(
                [haproxy, "-db", "-f", str(workdir / "haproxy.cfg")],
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(lb_listener.fileno(),),
                start_new_session=True,
            )
        lb_listener.close()

        def stop_proxy() -> None:
            proxy.terminate()
            try:
                proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait(timeout=10)

        stack.callback(stop_proxy)
        _wait_for(f"{lb_url}/ready", proxy, lb.log_path, "haproxy")
        outputs = [instance.log_path.read_text(encoding="utf-8", errors="replace") for instance in instances]
        yield Cluster(lb, instances, mail, database_url, text, outputs)
