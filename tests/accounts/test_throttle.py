"""The rate limiter every throttle uses (GCRA in one Lua script, in Redis) and the client
address the throttles and lockouts count."""

import threading

import pytest
from django.test import RequestFactory

from accounts.throttle import Decision, client_ip, retry_after_header, take

T = 1_780_000_000.0  # any instant: the limiter only compares the `now`s it is given


def test_a_burst_then_one_per_interval():
    def at(seconds):
        return take("t:burst", rate=6, period=60, burst=3, now=T + seconds)

    assert [at(0) for _ in range(3)] == [Decision(True, 3, r, 0) for r in (2, 1, 0)]
    assert at(0) == Decision(False, 3, 0, 10.0)
    assert at(4).retry_after == pytest.approx(6)  # a refused request does not push the next one back
    assert at(10).allowed and not at(10).allowed
    assert at(40) == Decision(True, 3, 2, 0)  # full again after 30 s idle, and never more than the burst


def test_keys_are_counted_apart():
    assert take("t:a", rate=1, period=60, burst=1, now=T).allowed
    assert not take("t:a", rate=1, period=60, burst=1, now=T).allowed
    assert take("t:b", rate=1, period=60, burst=1, now=T).allowed


def test_concurrent_requests_never_take_more_than_the_burst():
    """The read-modify-write is one Lua script: 40 requests racing in 8 threads (each with
    its own connection from the pool, as separate processes would) get exactly 5 through."""
    results, start = [], threading.Barrier(8)

    def worker():
        start.wait()
        for _ in range(5):
            results.append(take("t:race", rate=1, period=3600, burst=5, now=T).allowed)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40 and results.count(True) == 5


def test_redis_down_is_no_decision(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert take("t:down", rate=1, period=60, burst=1, now=T) is None


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.99, "60")])
def test_retry_after_is_rounded_up_to_whole_seconds(seconds, header):
    assert retry_after_header(Decision(False, 1, 0, seconds)) == header


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "10.0.0.1"),  # no proxy: the header is the client's own words
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "203.0.113.66, 198.51.100.7", "198.51.100.7"),  # a forged entry on the left is ignored
        (2, "203.0.113.66, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (2, "198.51.100.7", "10.0.0.1"),  # fewer hops than proxies: not through them, use the peer
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_behind_trusted_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
