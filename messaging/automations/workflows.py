"""Building a workflow: the checks its trigger and steps must pass, and its steps — added,
edited, moved and removed while it is not active (draft, paused or stopped), under the
workflow's row lock. Status changes (activate, pause, resume, stop) are in `controls`."""

from django.db import transaction

from compliance import content
from compliance.policy import get_policy
from messaging.automations.models import DATE_FIELDS, Workflow, WorkflowStep
from messaging.bulk import merge_field_problem
from messaging.services import MessagingError


def body_problem(body: str) -> str:
    """A send step's text: not empty, known merge fields, no prohibited content (R11: refused
    when saved, before anything could send it)."""
    body = (body or "").strip()
    if not body:
        return "The message is empty."
    problem = merge_field_problem(body)
    if problem:
        return problem
    match = content.screen(body, get_policy())
    if match is not None:
        return f"The message contains prohibited content ({match.category}): “{match.matched}”. It cannot be sent."
    return ""


def activation_problems(workflow: Workflow) -> list[str]:
    """What keeps a workflow from being activated, in words."""
    problems = []
    steps = list(workflow.steps.all())
    if not steps:
        problems.append("Add at least one step.")
    T = Workflow.Trigger
    if workflow.trigger == T.TAG_ADDED and workflow.trigger_tag_id is None:
        problems.append("Choose the tag that triggers it.")
    if workflow.trigger == T.KEYWORD and not workflow.trigger_keyword:
        problems.append("Choose the keyword that triggers it.")
    if workflow.trigger == T.DATE and workflow.trigger_date_field not in DATE_FIELDS:
        problems.append("Choose the contact's date that triggers it.")
    for step in steps:
        if step.kind == WorkflowStep.Kind.SEND_SMS and (problem := body_problem(step.body)):
            problems.append(f"Step {step.position + 1}: {problem}")
        if step.kind in (WorkflowStep.Kind.ADD_TAG, WorkflowStep.Kind.REMOVE_TAG) and step.tag_id is None:
            problems.append(f"Step {step.position + 1}: choose a tag.")
    return problems


# --- Steps ----------------------------------------------------------------------------------


def _locked(workflow: Workflow) -> Workflow:
    locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if not locked.is_editable:
        raise MessagingError("Pause the workflow to change its steps: it is active.")
    return locked


def _renumber(steps: list[WorkflowStep]) -> None:
    for position, step in enumerate(steps):
        if step.position != position:
            step.position = position
            step.save(update_fields=["position"])


def step_add(*, workflow: Workflow, at: int | None = None, **fields) -> WorkflowStep:
    """A step at `at` (default: the end). `fields`: kind, body, wait_minutes, wait_until, tag."""
    with transaction.atomic():
        locked = _locked(workflow)
        steps = list(locked.steps.order_by("position"))
        at = len(steps) if at is None else max(0, min(at, len(steps)))
        step = WorkflowStep(workflow=locked, position=len(steps), **fields)
        step.save()
        steps.insert(at, step)
        _renumber(steps)
    return step


def step_update(*, step: WorkflowStep, **fields) -> WorkflowStep:
    with transaction.atomic():
        _locked(step.workflow)
        for name, value in fields.items():
            setattr(step, name, value)
        step.save(update_fields=list(fields))
    return step


def step_move(*, step: WorkflowStep, by: int) -> None:
    """Up (-1) or down (+1) one place."""
    with transaction.atomic():
        locked = _locked(step.workflow)
        steps = list(locked.steps.order_by("position"))
        index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
        target = max(0, min(index + by, len(steps) - 1))
        steps.insert(target, steps.pop(index))
        _renumber(steps)


def step_remove(*, step: WorkflowStep) -> None:
    """Its log rows keep what ran (their step reference becomes empty). Enrollments waiting in a
    paused workflow keep their step number: they run whatever step is there when resumed."""
    with transaction.atomic():
        locked = _locked(step.workflow)
        WorkflowStep.objects.filter(pk=step.pk).delete()
        _renumber(list(locked.steps.order_by("position")))
