"""Drill: the app loses PostgreSQL — every connection dropped, new ones refused, as while the
server restarts — and gets it back. Meanwhile the API answers 503 + Retry-After in JSON, pages
a plain 503 page, and a receipt webhook a 5xx so Twilio retries it; afterwards the same server
process answers 200/201 again by itself and the retried receipt is applied.

The shared PostgreSQL is never stopped: the app reaches it through a TCP proxy in this test,
which is what is cut."""

import json
import os
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from messaging import keys
from messaging.models import Message, Status
from messaging.providers.base import sign
from tests.drills import harness

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True)]

SID = "SM" + "0d7111" * 5 + "00"


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> str:
    """Pages are served as in production (DEBUG off: the manifest storage), so the static files
    are collected first, as a deploy does (README: Running in production) — into a directory of
    the drill's own, never the checkout's staticfiles/."""
    root = str(tmp_path_factory.mktemp("static"))
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "drill-" + "x" * 50, "REDIS_URL": "redis://127.0.0.1:9/0",
           "STATIC_ROOT": root}  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=harness.ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    return root


@pytest.fixture
def proxy(ports):
    settings_dict = connection.settings_dict
    upstream = (settings_dict.get("HOST") or "127.0.0.1", int(settings_dict.get("PORT") or 5432))
    port = harness.free_port(taken=ports)
    ports.add(port)
    proxy = harness.TcpProxy(upstream, port).start()
    yield proxy
    proxy.close()


def test_a_database_outage_answers_503_and_the_app_recovers_by_itself(
    world, processes, ports, proxy, app_env, static_root
):
    _, raw_key = keys.api_key_create(sub_account=world.a1, name="drill")
    delivered_later = world.message_of(world.a1_contact, status=Status.SENT, provider_sid=SID, failure_reason="")
    browser = Client()
    browser.force_login(world.a1_owner)  # a session in the database, as after a login
    session = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    api = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
    contact = f"/api/v1/contacts/{world.a1_contact.phone.replace('+', '%2B')}"
    page = f"/s/{world.a1.pk}/conversations/"

    port = harness.free_port(taken=ports)
    ports.add(port)
    public = f"http://127.0.0.1:{port}"
    database = harness.database_url(connection.settings_dict, port=proxy.port)
    env = app_env(DATABASE_URL=database, PUBLIC_BASE_URL=public, STATIC_ROOT=static_root)
    web = harness.start_web(processes, env, port)
    gunicorn_workers = harness.process_tree(web.popen.pid)

    def get(path, headers):
        return harness.http_request(port, "GET", path, headers=headers)

    def send(to):
        body = json.dumps({"to": to, "body": "Drill: see you at 10.", "source": "one_to_one"}).encode()
        return harness.http_request(port, "POST", "/api/v1/messages", body=body, headers=api)

    receipt = {"MessageSid": SID, "MessageStatus": "delivered", "AccountSid": harness.ACCOUNT_SID,
               "To": world.a1_contact.phone, "From": "+16465550101"}  # fmt: skip
    signature = sign(harness.AUTH_TOKEN, public + "/webhooks/twilio/status", receipt)

    def post_receipt():
        return harness.http_request(
            port, "POST", "/webhooks/twilio/status", body=urlencode(receipt).encode(),
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip

    # Up: the persistent database connections of the server's threads are open.
    assert get(contact, api).status == 200
    assert get(page, session).status == 200
    assert send("+12125550160").status == 201

    proxy.cut()
    for answer in (get(contact, api), send("+12125550161")):
        assert answer.status == 503, answer.body
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["code"] == "service_unavailable" and int(answer.headers["retry-after"]) > 0
    answer = get(page, session)
    assert answer.status == 503 and answer.headers["content-type"].startswith("text/html")
    assert b"Back in a moment" in answer.body and int(answer.headers["retry-after"]) > 0
    answer = post_receipt()
    assert answer.status >= 500, "a receipt answered 2xx during the outage would never be retried by Twilio"
    assert get("/healthz", {}).json()["database"] == "error"

    proxy.restore()
    restored = time.monotonic()
    harness.wait_until(lambda: get(contact, api).status == 200, timeout=60, what="the API to answer 200 again",
                       logs=processes)  # fmt: skip
    print(f"answered 200 again {time.monotonic() - restored:.1f} s after the proxy was restored")
    assert get(page, session).status == 200
    assert send("+12125550162").status == 201
    assert post_receipt().status == 200  # Twilio's retry of the same signed receipt
    delivered_later.refresh_from_db()
    assert delivered_later.status == Status.DELIVERED
    assert set(Message.objects.filter(to_number__startswith="+121255501").values_list("to_number", flat=True)) == {
        world.a1_contact.phone,
        "+12125550160",
        "+12125550162",
    }  # the send refused with 503 did nothing
    assert web.alive and harness.process_tree(web.popen.pid) == gunicorn_workers  # recovered, not restarted
