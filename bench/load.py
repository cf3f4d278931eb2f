"""Load: concurrent API clients and carrier receipts against the app served exactly as `make run`
serves it (the bench runs `make run` itself: gunicorn with config/gunicorn.conf.py, the RQ worker
and the cron scheduler, the carrier simulator), on PostgreSQL and Redis on this machine. Not a
test; docs/BENCHMARKS.md has the figures and how to read them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_serving REDIS_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/load.py --clients 64 --seconds 60 --port 8101 --fresh

Each client loops for --seconds over one kept-alive connection, choosing by --mix between
  send     POST /api/v1/messages (one_to_one, to one of the sub-account's contacts)
  read     GET /api/v1/contacts/<phone>
  receipt  POST /webhooks/twilio/status, signed as the simulator signs (a `delivered` or `sent`
           receipt for one of the messages the bench marked sent beforehand)
spread over --subaccounts sub-accounts, each with its own API key. Bounded: at most 256 clients,
300 s and --max-requests requests; 127.0.0.1 only. --fresh drops and recreates the database and
flushes the Redis database of REDIS_URL first.

Prints requests/s, latency percentiles (overall and per kind), the answers by status code (5xx and
4xx counted apart), client-side errors, and the most PostgreSQL connections seen during the run.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

from common import ROOT, ensure_database, free_port, lift_ramp, print_table, require_loopback_services, setup_django

MAX_CLIENTS, MAX_SECONDS = 256, 300
SECRET_KEY = "bench-only-secret-key-never-used-in-production-0123456789"
CONTACTS_PER_SUB = 500
SENT_PER_SUB = 500  # messages marked sent beforehand, the receipts' subjects
REQUEST_TIMEOUT = 60  # seconds; a request slower than this counts as a client error
# gunicorn's access log line: ... "GET /path HTTP/1.1" 200 1234 ...
ACCESS_LINE = re.compile(r'"[A-Z]+ [^"]* HTTP/[0-9.]+" (\d{3}) ')


def phone(sub_index: int, i: int) -> str:
    return f"+1212{3000000 + sub_index * 10000 + i:07d}"


# --- The server: `make run` ------------------------------------------------------------------


def start_server(port: int, log_path: Path) -> subprocess.Popen:
    """`make run` in a process group of its own, so stopping it is what Ctrl-C does in a terminal."""
    env = {
        **os.environ,
        "SECRET_KEY": SECRET_KEY,  # the simulator's webhook key derives from it (signed receipts)
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        # Quiet hours would hold nothing here (one_to_one is exempt), but keep runs independent
        # of the time of day.
        "COMPLIANCE_POLICY": os.environ.get(
            "COMPLIANCE_POLICY", '{"QUIET_SOURCES": [], "REGISTRATION_REQUIRED": false}'
        ),
    }
    log = open(log_path, "w")  # noqa: SIM115 - the server writes to it until it stops
    return subprocess.Popen(
        ["make", "run", f"PORT={port}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_healthy(server: subprocess.Popen, base_url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"make run exited with {server.returncode} before serving")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"make run did not answer /healthz within {timeout:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print("make run did not stop within 60 s of SIGINT: killed")
    except ProcessLookupError:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # whatever is left of its group


def cpu_seconds(pgid: int) -> Counter:
    """CPU seconds (user + system, with reaped children: RQ's work-horses) of the server's
    processes so far, by role: web (gunicorn), worker (rqworker and its horses), other."""
    tick = os.sysconf("SC_CLK_TCK")
    used = Counter()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # exited meanwhile
            continue
        if int(fields[2]) != pgid:  # fields[2] is the process group (the 5th field of stat)
            continue
        role = "web" if "gunicorn" in cmdline else "worker" if "rqworker" in cmdline else "other"
        used[role] += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return used


# --- The world: sub-accounts, keys, contacts, sent messages ----------------------------------


@dataclass
class Tenant:
    key: str
    phones: list
    sids: list
    number: str


def bench_world(count: int) -> list[Tenant]:
    """`count` sub-accounts of one agency, each with a number, an API key, consented contacts
    and messages already handed to the carrier (their receipts are what the bench posts)."""
    from django.utils import timezone

    from accounts.models import Agency, SubAccount
    from compliance import rebuild
    from messaging import keys
    from messaging.models import Contact, Message, PhoneNumber

    now = timezone.now()
    agency, _ = Agency.objects.get_or_create(name="Load Agency")
    tenants = []
    for s in range(count):
        sub, _ = SubAccount.objects.get_or_create(agency=agency, name=f"Load {s}", defaults={"business_name": "Load"})
        number = f"+1646555{s:04d}"
        PhoneNumber.objects.get_or_create(number=number, defaults={"sub_account": sub})
        lift_ramp(sub)
        phones = [phone(s, i) for i in range(CONTACTS_PER_SUB)]
        Contact.objects.bulk_create(
            (Contact(sub_account=sub, phone=p, consent="granted") for p in phones), ignore_conflicts=True
        )
        contacts = list(Contact.objects.filter(sub_account=sub, phone__in=phones).order_by("phone"))
        sids = [f"SMload{s:03d}{i:06d}" for i in range(SENT_PER_SUB)]
        Message.objects.bulk_create(
            (
                Message(
                    sub_account=sub, contact=contacts[i % len(contacts)], direction="outbound", source="one_to_one",
                    status="sent", body="Load", body_sent="Load", from_number=number,
                    to_number=contacts[i % len(contacts)].phone, provider_sid=sid, handed_at=now, sent_at=now,
                )
                for i, sid in enumerate(sids)
            ),
            ignore_conflicts=True,
        )  # fmt: skip
        rebuild.rates_rebuild(sub_account_id=sub.pk, since=now - timedelta(hours=25))
        _key, raw = keys.api_key_create(sub_account=sub, name="load bench")
        tenants.append(Tenant(raw, phones, sids, number))
    return tenants


# --- The load ---------------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict = field(default_factory=lambda: {"send": [], "read": [], "receipt": []})
    statuses: Counter = field(default_factory=Counter)  # (kind, status or error name)
    started: float = 0.0
    finished: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


class Signer:
    """X-Twilio-Signature as the simulator provider makes it (messaging/providers/simulator.py)."""

    def __init__(self, base_url: str):
        from messaging.providers.base import sign
        from messaging.providers.simulator import SimulatorProvider

        self.url = base_url + "/webhooks/twilio/status"
        self.token = SimulatorProvider().auth_token
        self.sign = sign

    def headers(self, params: dict) -> dict:
        return {"X-Twilio-Signature": self.sign(self.token, self.url, params)}


def request_for(kind: str, rng: random.Random, tenants: list[Tenant], signer: Signer, n: int):
    tenant = rng.choice(tenants)
    auth = {"Authorization": f"Bearer {tenant.key}"}
    if kind == "send":
        body = {"to": rng.choice(tenant.phones), "body": f"Load test {n}", "source": "one_to_one"}
        return "POST", "/api/v1/messages", {"headers": auth, "json": body}
    if kind == "read":
        return "GET", "/api/v1/contacts/" + quote(rng.choice(tenant.phones)), {"headers": auth}
    params = {
        "MessageSid": rng.choice(tenant.sids),
        "MessageStatus": rng.choice(("sent", "delivered", "delivered")),
        "AccountSid": "ACsimulator",
        "From": tenant.number,
        "To": rng.choice(tenant.phones),
    }
    return "POST", "/webhooks/twilio/status", {"headers": signer.headers(params), "data": params}


async def client(i, session, base_url, tenants, signer, mix, deadline, budget, results):
    import aiohttp

    rng = random.Random(i)
    kinds, weights = zip(*mix.items(), strict=True)
    n = 0
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        n += 1
        kind = rng.choices(kinds, weights)[0]
        method, path, kwargs = request_for(kind, rng, tenants, signer, n)
        start = time.perf_counter()
        try:
            async with session.request(method, base_url + path, **kwargs) as response:
                await response.read()
                outcome = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = type(exc).__name__
        results.latencies[kind].append(time.perf_counter() - start)
        results.statuses[(kind, outcome)] += 1


async def run_load(base_url, tenants, signer, *, clients, seconds, max_requests, mix) -> Results:
    import aiohttp

    results = Results()
    budget = [max_requests]
    connector = aiohttp.TCPConnector(limit=clients)  # one kept-alive connection per client
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        results.started = time.monotonic()
        deadline = results.started + seconds
        await asyncio.gather(
            *(client(i, session, base_url, tenants, signer, mix, deadline, budget, results) for i in range(clients))
        )
        results.finished = time.monotonic()
    return results


class ConnectionSampler:
    """The most PostgreSQL connections seen at once, to the app's database and to the whole server
    (other databases included: the machine is shared), sampled every 0.5 s over a connection of
    the bench's own (not counted)."""

    QUERY = """
        SELECT count(*) FILTER (WHERE datname = current_database()),
               count(*) FILTER (WHERE backend_type = 'client backend')
        FROM pg_stat_activity WHERE pid <> pg_backend_pid()"""

    def __init__(self, database_url: str):
        import threading

        import psycopg

        url = urlsplit(database_url)
        self.conn = psycopg.connect(
            dbname=url.path.lstrip("/"), host=url.hostname, port=url.port or 5432, user=url.username,
            password=url.password, autocommit=True,
        )  # fmt: skip
        self.peak_app = self.peak_server = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopping.wait(0.5):
            app, server = self.conn.execute(self.QUERY).fetchone()
            self.peak_app, self.peak_server = max(self.peak_app, app), max(self.peak_server, server)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        self.conn.close()


# --- Report -----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * p // 100) - 1)] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def report(results: Results, sampler: ConnectionSampler, server_log: Path, max_connections: str) -> int:
    elapsed = results.finished - results.started
    everything = [x for v in results.latencies.values() for x in v]
    rows = [
        (
            kind, str(len(v)), f"{len(v) / elapsed:.1f}", ms(percentile(v, 50)), ms(percentile(v, 95)),
            ms(percentile(v, 99)), ms(max(v)) if v else "—",
        )
        for kind, v in [*results.latencies.items(), ("all", everything)]
    ]  # fmt: skip
    print(f"\n{results.total} requests in {elapsed:.1f} s: {results.total / elapsed:.1f} requests/s\n")
    print_table(("kind", "requests", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms"), rows)

    by_status = Counter()
    for (kind, outcome), n in results.statuses.items():
        by_status[(outcome, kind)] += n
    print()
    print_table(
        ("answer", "kind", "count"),
        [(str(o), k, str(n)) for (o, k), n in sorted(by_status.items(), key=lambda x: (str(x[0][0]), x[0][1]))],
    )
    fives = sum(n for (_k, o), n in results.statuses.items() if isinstance(o, int) and o >= 500)
    fours = Counter(o for (_k, o), n in results.statuses.items() for _ in range(n) if isinstance(o, int) and o >= 400)
    errors = sum(n for (_k, o), n in results.statuses.items() if not isinstance(o, int))
    print(f"\n5xx: {fives}    4xx: {sum(fours.values())} {dict(sorted(fours.items()))}    client errors: {errors}")
    print(
        f"PostgreSQL connections during the run: at most {sampler.peak_app} to the app's database, "
        f"{sampler.peak_server} to the server (all databases; max_connections {max_connections})"
    )
    log = server_log.read_text(errors="replace")
    served = Counter(m.group(1) for m in ACCESS_LINE.finditer(log))
    print(
        f"server log: {server_log}: {sum(served.values())} requests served in all (the simulator's receipts "
        f"and the UI's too), by status {dict(sorted(served.items()))}; {log.count('Traceback')} tracebacks"
    )
    return fives


def sends_by_status() -> str:
    """What became of this run's sends (the worker keeps dispatching after the load stops)."""
    from django.db.models import Count

    from messaging.models import Message

    sends = Message.objects.filter(sub_account__agency__name="Load Agency", body__startswith="Load test")
    counts = dict(sends.values_list("status").annotate(n=Count("id")))
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many (default %(default)s)")
    parser.add_argument("--mix", default="send=3,read=5,receipt=2", help="weights (default %(default)s)")
    parser.add_argument("--subaccounts", type=int, default=8)
    parser.add_argument("--port", type=int, default=0, help="for make run (default: a free one)")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database, flush Redis first")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= MAX_CLIENTS and 0 < args.seconds <= MAX_SECONDS and args.max_requests > 0):
        parser.error(f"--clients 1..{MAX_CLIENTS}, --seconds up to {MAX_SECONDS}, --max-requests above 0")
    mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    if not set(mix) <= {"send", "read", "receipt"} or sum(mix.values()) <= 0:
        parser.error("--mix takes weights of send, read and receipt")

    database_url, redis_url = require_loopback_services()
    if args.fresh:
        import redis

        ensure_database(database_url, drop=True)
        redis.Redis.from_url(redis_url).flushdb()
    else:
        ensure_database(database_url)
    os.environ["SECRET_KEY"] = SECRET_KEY
    port = args.port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_dir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    server_log = log_dir / "make-run.log"
    print(f"make run PORT={port} (log: {server_log}) …", flush=True)
    server = start_server(port, server_log)
    try:
        wait_healthy(server, base_url)
        setup_django(test_client=False)  # migrations: already applied by make run
        from django.db import connection, connections

        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('max_connections'), version()")
            max_connections, version = cur.fetchone()
        tenants = bench_world(args.subaccounts)
        signer = Signer(base_url)
        banner = [line for line in server_log.read_text().splitlines() if "Served by" in line]
        print(f"{version.split(',')[0]}; {os.cpu_count()} CPUs; {banner[0].strip() if banner else ''}")
        print(f"{args.clients} clients for {args.seconds:.0f} s, mix {args.mix}, {args.subaccounts} sub-accounts")
        print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        for conn in connections.all():  # the bench's own connections are not the app's: none kept open
            conn.close()
            conn.close_pool()  # PostgreSQL's wrapper (the bench runs on nothing else)
        cpu_before = cpu_seconds(server.pid)
        with ConnectionSampler(database_url) as sampler:
            results = asyncio.run(
                run_load(base_url, tenants, signer, clients=args.clients, seconds=args.seconds,
                         max_requests=args.max_requests, mix=mix)
            )  # fmt: skip
        cpu = cpu_seconds(server.pid)
        cpu.subtract(cpu_before)
        print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(f"CPU seconds the server used during the load: web {cpu['web']:.1f}, worker {cpu['worker']:.1f}, "
              f"other {cpu['other']:.1f} (PostgreSQL's not counted); web per request: "
              f"{1000 * cpu['web'] / max(1, results.total):.1f} ms")  # fmt: skip
        print(f"this run's sends by status at the end of the load: {sends_by_status()}")
    finally:
        stop_server(server)
    fives = report(results, sampler, server_log, max_connections)
    print(json.dumps({"requests_per_s": round(results.total / (results.finished - results.started), 1), "5xx": fives}))
    sys.exit(1 if fives else 0)


if __name__ == "__main__":
    main()
