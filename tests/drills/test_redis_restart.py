"""Drill: Redis is killed and started again (empty: its queued jobs and flags are gone) while API
clients keep sending through gunicorn and a worker is dispatching. Every send is answered either
503 + Retry-After (nothing was done: safe to retry) or 201 — and every 201 message reaches the
provider exactly once: those whose dispatch run was lost with Redis are found by the sweep."""

import itertools
import json
import threading
import time
from dataclasses import dataclass

import pytest
from django.db.models import Count

from messaging import keys
from messaging.models import Contact, Message, Status
from tests.drills import harness

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True)]

CLIENTS = 4
ENOUGH = 12  # answers wanted in each phase: before, during and after the outage
MOST = 1000  # the drill never sends more than this many
SOURCES = ("one_to_one", "workflow")  # both lanes: dispatch_person and dispatch


def phone(i: int) -> str:
    return f"+1212{3000000 + i:07d}"


@dataclass
class Sent:
    to: str
    started: float
    answered: float
    answer: harness.Answer | None
    error: str = ""


class Clients:
    """API clients sending one message after another, each to a number of its own, with no retries."""

    def __init__(self, port: int, key: str):
        self.port, self.key = port, key
        self.numbers = itertools.count()
        self.results: list[Sent] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def _run(self):
        while not self.stopping.is_set():
            i = next(self.numbers)
            if i >= MOST:
                return
            to = phone(i)
            body = json.dumps({"to": to, "body": f"Drill {i}: see you at 10.", "source": SOURCES[i % 2]}).encode()
            started = time.monotonic()
            try:
                answer = harness.http_request(
                    self.port, "POST", "/api/v1/messages", body=body,
                    headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
                )  # fmt: skip
                self.results.append(Sent(to, started, time.monotonic(), answer))
            except OSError as exc:
                self.results.append(Sent(to, started, time.monotonic(), None, repr(exc)))

    def answered_between(self, since: float, until: float = float("inf")) -> list[Sent]:
        return [r for r in list(self.results) if r.started >= since and r.answered <= until]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_sends_during_a_redis_restart_are_refused_with_503_or_sent_exactly_once(
    world, processes, ports, stub, drill_redis, app_env, drill_settings
):
    world.ramp_at_top(world.a1)
    Contact.objects.bulk_create(Contact(sub_account=world.a1, phone=phone(i), consent="granted") for i in range(MOST))
    _, raw_key = keys.api_key_create(sub_account=world.a1, name="drill")
    port = harness.free_port(taken=ports)
    ports.add(port)
    env = app_env(TWILIO_API_BASE_URL=stub.url, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    worker = harness.start_worker(processes, env, "drill-worker")
    web = harness.start_web(processes, env, port)

    messages = Message.objects.filter(sub_account=world.a1, direction="outbound")

    def answered(since, until=float("inf")):
        return lambda: len(clients.answered_between(since, until)) >= ENOUGH

    with Clients(port, raw_key) as clients:
        harness.wait_until(answered(0), timeout=30, what="sends before the outage", logs=processes)
        # Mid-send: a dispatch run has claimed messages and is handing them to the provider.
        harness.wait_until(messages.filter(status=Status.SENDING).exists, timeout=30, every=0.002,
                           what="a dispatch run at work", logs=processes)  # fmt: skip
        went_down = time.monotonic()
        drill_redis.crash()
        down = time.monotonic()
        harness.wait_until(answered(down), timeout=30, what="sends during the outage", logs=processes)
        # The run that was at work ends while Redis is down (its work-horse exits): the moment
        # rq's own worker quits at, leaving nothing to dispatch once Redis is back.
        harness.wait_until(lambda: harness.process_tree(worker.popen.pid) == [worker.popen.pid], timeout=30,
                           what="the dispatch run to end during the outage", logs=processes)  # fmt: skip
        coming_back = time.monotonic()
        drill_redis.start()  # the same port, nothing in it
        back = time.monotonic()
        harness.wait_until(answered(back), timeout=30, what="sends after the outage", logs=processes)
    assert web.alive and worker.alive

    results = clients.results
    assert [r for r in results if r.answer is None] == []  # every request was answered
    accepted = [r for r in results if r.answer.status == 201]
    refused = [r for r in results if r.answer.status == 503]
    assert len(accepted) + len(refused) == len(results), {r.answer.status for r in results}
    for r in accepted:
        assert r.answer.json()["status"] == Status.QUEUED, r.answer.body
    for r in refused:
        assert r.answer.json()["code"] == "service_unavailable" and int(r.answer.headers["retry-after"]) > 0
    assert clients.answered_between(down, coming_back), "nothing was answered while Redis was down"

    sweeps = harness.sweep_until_settled(messages, stub, processes)

    counts = stub.count_by_to()
    sids = {m["to"]: m["sid"] for m in stub.received()}
    assert set(messages.values_list("to_number", flat=True)) == {r.to for r in accepted}  # a 503 did nothing
    assert dict(messages.values_list("status").annotate(n=Count("pk"))) == {Status.SENT: len(accepted)}
    assert counts == {r.to: 1 for r in accepted}  # each at the provider once, nothing else
    assert dict(messages.values_list("to_number", "provider_sid")) == {r.to: sids[r.to] for r in accepted}

    during = clients.answered_between(went_down, back)
    print(f"{len(results)} sends: {len(accepted)} answered 201, {len(refused)} answered 503; "
          f"while Redis was down or coming back: {sum(r.answer.status == 201 for r in during)} × 201, "
          f"{sum(r.answer.status == 503 for r in during)} × 503; settled after {sweeps} sweep(s)")  # fmt: skip
