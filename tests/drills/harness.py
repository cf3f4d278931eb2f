"""What the fault drills run: real processes (redis-server, the Twilio stub, rq workers, gunicorn)
that a drill can kill -9 together with what they forked (a worker's work-horse), and a TCP
proxy that can cut the app off from PostgreSQL.

Every wait is a poll with a deadline (`wait_until`), never a fixed sleep: the drills assert what
the system guarantees, not how fast it is."""

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import django_rq
import redis
from django.db import connection
from django.db.models import Q

from messaging import dispatch
from messaging.models import Status

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = os.environ.get("DRILL_REDIS_SERVER", "/usr/bin/redis-server")
ACCOUNT_SID = "AC" + "d7111" * 6 + "00"
AUTH_TOKEN = "drill-auth-token"


def wait_until(condition, *, timeout: float, what: str, every: float = 0.05, logs=None):
    """Poll `condition` until it returns something truthy (returned), or fail after `timeout`
    seconds saying what was awaited (and the tail of the processes' logs, when given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\n{logs.tails()}" if logs is not None else ""
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(every)


def _port_range() -> list[int]:
    """DRILL_PORTS=8105-8110 keeps the servers on ports of one's own on a shared machine;
    unset, the kernel picks free ones."""
    spec = os.environ.get("DRILL_PORTS", "")
    if not spec:
        return []
    low, _, high = spec.partition("-")
    return list(range(int(low), int(high or low) + 1))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, server: bool = True, taken: set[int] | None = None) -> int:
    """A free port on 127.0.0.1: from DRILL_PORTS for servers when set, else any."""
    if server:
        for port in _port_range():
            if port not in (taken or set()) and _bindable(port):
                return port
        if _port_range():
            raise RuntimeError(f"no free port in DRILL_PORTS={os.environ['DRILL_PORTS']}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict, *, host: str | None = None, port: int | None = None) -> str:
    """A DATABASE_URL for the database this test process uses (pytest-django's test_<name>)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = host or settings_dict.get("HOST") or "127.0.0.1"
    port = port or settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def sessions_of(name: str) -> int:
    """Sessions on this test's database opened by the processes started as `name` (each gets
    PGAPPNAME=name, which libpq sends as its application_name)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND application_name = %s", [name])  # fmt: skip
        return cursor.fetchone()[0]


# --- Processes ------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it (read from /proc: rq's work-horse puts itself in
    a process group of its own, so a signal to the worker's group does not reach it)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def signal_all(pids, sig) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def crash(self, tree: list[int] | None = None) -> None:
        """kill -9 of the process and everything it forked (a worker and its work-horse), as the
        OOM killer or a lost machine would: all frozen first, so none of them reacts to the
        others' death, then killed. Nothing gets to clean up. `tree` (from `process_tree`, read
        beforehand) makes the freeze immediate: reading /proc takes milliseconds."""
        tree = tree or process_tree(self.popen.pid)
        signal_all(tree, signal.SIGSTOP)
        signal_all(tree, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def tail(self, chars: int = 3000) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text[-chars:]


@dataclass
class Processes:
    """The processes one drill started; `stop_all` ends each of them and what they forked (and
    nothing else)."""

    directory: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict) -> Proc:
        env = env | {"PGAPPNAME": name}  # its database sessions are known by it (`sessions_of`)
        log = self.directory / f"{name}.log"
        with open(log, "ab") as out:  # the child keeps its own descriptor
            popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)  # fmt: skip
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        running = [p for p in self.procs if p.alive]
        trees = {p.name: process_tree(p.popen.pid) for p in running}
        for proc in running:
            signal_all([proc.popen.pid], signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in running:
            signal_all(trees[proc.name], signal.SIGKILL)  # what is left: a work-horse, a gunicorn worker
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)

    def tails(self) -> str:
        return "\n".join(f"--- {p.name} ({'running' if p.alive else f'exit {p.popen.returncode}'}) ---\n{p.tail()}"
                         for p in self.procs)  # fmt: skip


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


# --- The app's processes --------------------------------------------------------------------


def start_worker(processes, env: dict, name: str) -> Proc:
    """An rq worker as production runs it (both lanes and `default`, where the sweep runs), ready
    once it has registered in Redis. Without --with-scheduler: nothing drilled is delayed work."""
    proc = processes.start(
        name,
        manage("rqworker", "dispatch_person", "dispatch", "default", "--name", name,
               "--worker-class", "messaging.worker.Worker"),
        env,
    )  # fmt: skip
    client = redis.Redis.from_url(env["REDIS_URL"])
    wait_until(
        lambda: client.sismember("rq:workers", f"rq:worker:{name}") or not proc.alive,
        timeout=30, what=f"worker {name} to register", logs=processes,
    )  # fmt: skip
    assert proc.alive, processes.tails()
    return proc


def start_web(processes, env: dict, port: int) -> Proc:
    """gunicorn with the production settings (config/gunicorn.conf.py: gthread, the database
    pool per process), one process of four threads; ready once /healthz answers 200."""
    web_env = env | {"PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "WEB_THREADS": "4",
                     "WEB_ACCESS_LOG": ""}  # fmt: skip
    proc = processes.start("web", [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"], web_env)
    wait_until(lambda: healthy(port) or not proc.alive, timeout=30, what="gunicorn", logs=processes)
    assert proc.alive, processes.tails()
    return proc


def sweep_until_settled(messages, stub, processes, *, timeout: float = 45) -> int:
    """Run the sweep as the cron does (an RQ job on `default`, run by a worker with the drill's
    SMS_CLAIM_STALE_SECONDS), one after another, until none of `messages` is queued or sending
    and every one the stub received is no longer `unknown`. Returns how many sweeps it took."""
    sweeps = []

    def settled():
        if sweeps and not (sweeps[-1].is_finished or sweeps[-1].is_failed):
            return False
        assert not (sweeps and sweeps[-1].is_failed), sweeps[-1].latest_result().exc_string
        received = {m["to"] for m in stub.received()}
        pending = messages.filter(
            Q(status__in=[Status.QUEUED, Status.SENDING]) | Q(status=Status.UNKNOWN, to_number__in=received)
        )
        if not pending.exists():
            return True
        sweeps.append(django_rq.get_queue("default").enqueue(dispatch.sweep))
        return False

    wait_until(settled, timeout=timeout, every=0.2, what="the sweep to settle every message", logs=processes)
    return len(sweeps)


# --- Redis ----------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of the drill's own, on a random port: it can be killed and started again
    without touching anyone else's Redis. Nothing is persisted (as a crash loses it all)."""

    def __init__(self, processes: Processes):
        self.processes = processes
        self.port = free_port(server=False)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Proc | None = None
        self.starts = 0

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.exceptions.RedisError:
            return False

    def start(self) -> "RedisServer":
        self.starts += 1
        self.proc = self.processes.start(
            f"redis-{self.starts}",
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            os.environ.copy(),
        )  # fmt: skip
        wait_until(self.answers, timeout=10, what=f"redis-server on port {self.port}", logs=self.processes)
        return self

    def crash(self) -> None:
        self.proc.crash()
        wait_until(lambda: not self.answers(), timeout=5, what="redis-server to be gone")


# --- The Twilio stub ------------------------------------------------------------------------


class Stub:
    """tests/twilio_stub.py as a process of its own; what it received is read back through its
    Messages list, as reconciliation reads it."""

    def __init__(self, processes: Processes, *, latency_ms: float, taken: set[int]):
        self.port = free_port(taken=taken)
        taken.add(self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = processes.start(
            "twilio-stub",
            [sys.executable, "-m", "tests.twilio_stub", "--port", str(self.port), "--latency-ms", str(latency_ms)],
            os.environ.copy(),
        )
        wait_until(lambda: "listening" in self.proc.tail(), timeout=15, what="the Twilio stub", logs=processes)

    def received(self) -> list[dict]:
        """Every message the stub accepted: [{"sid", "to", "from", "body"}], newest first."""
        import base64

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        conn.request("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?PageSize=1000000",
                     headers={"Authorization": f"Basic {auth}"})  # fmt: skip
        response = conn.getresponse()
        payload = json.loads(response.read())
        conn.close()
        assert response.status == 200, payload
        return payload["messages"]

    def count_by_to(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.received():
            counts[message["to"]] = counts.get(message["to"], 0) + 1
        return counts


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def http_request(port: int, method: str, path: str, *, body: bytes | None = None, headers=None,
                 timeout: float = 30) -> Answer:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Host": "127.0.0.1", **(headers or {})})
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def healthy(port: int) -> bool:
    try:
        return http_request(port, "GET", "/healthz", timeout=2).status == 200
    except OSError:
        return False


# --- A TCP proxy that can be cut ------------------------------------------------------------


class TcpProxy:
    """Between the app and PostgreSQL, in a thread of the test: `cut()` closes the listener and
    every connection through it (the app sees what a restarting server does: connections
    dropped, new ones refused); `restore()` listens again on the same port. The shared
    PostgreSQL itself is never stopped."""

    def __init__(self, upstream: tuple[str, int], port: int):
        self.upstream, self.port = upstream, port
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, name="drill-tcp-proxy", daemon=True)
        self.thread.start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _client(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self.writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.writers.difference_update((writer, up_writer))

    async def _listen(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self):
        self.server.close()  # no new connections: refused, as by a server that is down
        for writer in list(self.writers):
            writer.transport.abort()  # a reset, not a goodbye: as a crashed server
        self.writers.clear()
        await asyncio.wait_for(self.server.wait_closed(), timeout=5)
        self.server = None

    def start(self) -> "TcpProxy":
        self._run(self._listen())
        return self

    restore = start

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        if self.server is not None:
            self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
