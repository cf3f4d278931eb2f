"""The small named world every test uses: two agencies, so every view test can also prove the
other tenant gets a 404.

    Acme Marketing (agency A)             Globex Growth (agency B)
      ├─ Sunrise Dental (a1)                └─ Pine Bakery (b1)
      └─ Harbor Fitness (a2)
    users: support, a_admin, a_staff, a1_owner, a1_user, b_admin
"""

from dataclasses import dataclass

import pytest

from accounts.models import Agency, Membership, Role, SubAccount, User
from messaging.models import Contact, Message, PhoneNumber

PASSWORD = "correct-horse-battery"


@dataclass
class World:
    A: Agency
    B: Agency
    a1: SubAccount
    a2: SubAccount
    b1: SubAccount
    support: User
    a_admin: User
    a_staff: User
    a1_owner: User
    a1_user: User
    b_admin: User
    a1_contact: Contact
    b1_contact: Contact

    @staticmethod
    def ramp_at_top(sub_account, limit=1_000_000):
        """Put a sub-account at ramp level 8 with a large extension, for tests about something
        other than the ramp (R7 has its own)."""
        from compliance.models import RampState

        RampState.objects.update_or_create(sub_account=sub_account, defaults={"level": 8, "limit_extension": limit})

    def message_of(self, contact: Contact, **fields) -> Message:
        """A stored outbound message (for pages that take a message id)."""
        defaults = dict(direction="outbound", source="one_to_one", status="failed", body="Hi",
                        failure_reason="Test failure", to_number=contact.phone)  # fmt: skip
        return Message.objects.create(sub_account_id=contact.sub_account_id, contact=contact, **(defaults | fields))


def make_user(email, *, support=False, **membership):
    user = User.objects.create_user(email, PASSWORD, is_support_staff=support)
    if membership:
        Membership.objects.create(user=user, **membership)
    return user


@pytest.fixture
def world(db) -> World:
    A = Agency.objects.create(name="Acme Marketing")
    B = Agency.objects.create(name="Globex Growth")
    a1 = SubAccount.objects.create(agency=A, name="Sunrise Dental", business_name="Sunrise Dental Care")
    a2 = SubAccount.objects.create(agency=A, name="Harbor Fitness", business_name="Harbor Fitness Club")
    b1 = SubAccount.objects.create(agency=B, name="Pine Bakery", business_name="Pine Street Bakery")
    PhoneNumber.objects.create(sub_account=a1, number="+16465550101")
    PhoneNumber.objects.create(sub_account=a2, number="+15125550111")
    PhoneNumber.objects.create(sub_account=b1, number="+14155550121")
    return World(
        A=A,
        B=B,
        a1=a1,
        a2=a2,
        b1=b1,
        support=make_user("support@ops.test", support=True),
        a_admin=make_user("admin@acme.test", role=Role.AGENCY_ADMIN, agency=A),
        a_staff=make_user("staff@acme.test", role=Role.AGENCY_STAFF, agency=A),
        a1_owner=make_user("owner@sunrise.test", role=Role.SUBACCOUNT_OWNER, sub_account=a1),
        a1_user=make_user("user@sunrise.test", role=Role.SUBACCOUNT_USER, sub_account=a1),
        b_admin=make_user("admin@globex.test", role=Role.AGENCY_ADMIN, agency=B),
        a1_contact=Contact.objects.create(sub_account=a1, phone="+12125550100", first_name="Ava"),
        b1_contact=Contact.objects.create(sub_account=b1, phone="+14155550100", first_name="Ben"),
    )


@pytest.fixture
def login(client):
    """`login(user)` → the test client, logged in."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def memory_provider(settings):
    """Tests send through the in-memory provider (the provider edge is the only thing faked)
    and start with empty Redis queues."""
    import django_rq

    from messaging.providers import memory

    settings.SMS_BACKEND = "memory"
    memory.reset()
    django_rq.get_connection("default").flushdb()
    yield memory
    memory.reset()


@pytest.fixture
def run_jobs():
    """Run every queued RQ job now, in this process (a real rq SimpleWorker in burst mode, so
    the jobs see the test's database transaction)."""
    import django_rq
    from rq import SimpleWorker

    class BurstWorker(SimpleWorker):
        # rq 2.12's unsubscribe waits up to a second for its pubsub thread; a burst run in a
        # test takes no commands, so neither is needed (this halves the suite's time).
        def subscribe(self):
            pass

        def unsubscribe(self):
            pass

    def _run():
        queues = [django_rq.get_queue(name) for name in ("dispatch_person", "dispatch", "default", "webhooks")]
        BurstWorker(queues, connection=queues[0].connection).work(burst=True, with_scheduler=False)

    return _run


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads (consent and appeal screenshots) go to a directory of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def quiet_hours_off(settings):
    """R13 holds bulk, campaign and workflow messages outside 08:00–21:00 of the recipient's
    local time, so a test sending them would pass or fail with the time of day it runs at.
    Tests about something else run with no quiet-hours sources; the R13 tests (and any test
    that sets COMPLIANCE_POLICY without this key) have them on, at a clock they set.
    Carrier registration (issue 17) is off likewise: the test world's +1 555 numbers would
    need an approved 10DLC registration; tests/messaging/test_registration.py turns it on."""
    settings.COMPLIANCE_POLICY = {"QUIET_SOURCES": [], "REGISTRATION_REQUIRED": False}


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_database(db):
    """`with dead_database():` — this thread's default connection points at a database that
    cannot be reached: PostgreSQL on a closed port, or an SQLite file in a directory that does
    not exist. A real unreachable server (the driver's own error), not a mock."""
    from contextlib import contextmanager

    from django.db import connections

    @contextmanager
    def _dead():
        original = connections["default"]
        dead_settings = dict(original.settings_dict)
        # Without a pool, so the driver fails at once instead of the pool waiting for a connection.
        dead_settings["OPTIONS"] = {k: v for k, v in dead_settings.get("OPTIONS", {}).items() if k != "pool"}
        if original.vendor == "postgresql":
            dead_settings.update(HOST="127.0.0.1", PORT=str(closed_port()))
        else:
            dead_settings["NAME"] = "/nonexistent-directory/db.sqlite3"
        dead = type(original)(dead_settings, alias="default")
        connections["default"] = dead
        try:
            yield
        finally:
            dead.close()
            connections["default"] = original

    return _dead


@pytest.fixture
def redis_down(settings):
    """`with redis_down():` — the RQ queues point at a closed port."""
    from contextlib import contextmanager

    @contextmanager
    def _down():
        original = settings.RQ_QUEUES
        url = f"redis://127.0.0.1:{closed_port()}/0"
        settings.RQ_QUEUES = {name: {**config, "URL": url} for name, config in original.items()}
        try:
            yield
        finally:
            settings.RQ_QUEUES = original

    return _down
