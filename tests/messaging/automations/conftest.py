"""Automations tests: a fixed clock, consented contacts of Sunrise Dental at the top of the ramp,
a workflow builder, and `settle()`, which runs every job the last step enqueued (step job,
dispatch) until nothing is left, the way the worker would."""

from datetime import UTC, datetime

import django_rq
import pytest
import time_machine

from messaging.automations.models import Workflow, WorkflowStep
from messaging.models import Contact, Tag

NOON = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # a Monday, 12:00 in New York


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(world):
    """Three consented contacts of a1 (New York numbers), ramp out of the way."""
    world.ramp_at_top(world.a1)
    return [
        Contact.objects.create(sub_account=world.a1, phone=f"+1212555{i:04d}", first_name=name, consent="granted")
        for i, name in enumerate(["Ava", "Ben", "Cy"], start=10)
    ]


@pytest.fixture
def make_workflow(world):
    def _make(*steps, trigger=Workflow.Trigger.API, status=Workflow.Status.ACTIVE, sub_account=None, **fields):
        workflow = Workflow.objects.create(
            sub_account=sub_account or world.a1, name=fields.pop("name", "Follow-up"), trigger=trigger,
            status=status, **fields,
        )  # fmt: skip
        for position, step in enumerate(steps):
            WorkflowStep.objects.create(workflow=workflow, position=position, **step)
        return workflow

    return _make


def send(body):
    return {"kind": "send_sms", "body": body}


def wait(minutes=None, until=None):
    return {"kind": "wait", "wait_minutes": minutes, "wait_until": until}


def tag_step(kind, tag: Tag):
    return {"kind": kind, "tag": tag}


@pytest.fixture
def settle(run_jobs, django_capture_on_commit_callbacks):
    """Run the jobs enqueued on commit, and those they enqueue, until the queues are empty."""

    def _settle(rounds=10):
        queues = [django_rq.get_queue("dispatch"), django_rq.get_queue("default")]
        for _ in range(rounds):
            with django_capture_on_commit_callbacks(execute=True):
                run_jobs()
            if not any(q.count for q in queues):
                return
        raise AssertionError("jobs kept enqueuing jobs")

    return _settle


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` — run the block's on-commit callbacks (enqueueing) at its end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
