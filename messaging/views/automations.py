"""Automations pages: the list (workflows with their counts, campaigns, the built-in missed-call
text back, "pause all sending"), a workflow's builder (settings, trigger, steps added, moved and
removed) and its page (per-step counts, enrollments with filters), an enrollment's step log, the
campaign list, and the pause/resume/cancel buttons of a bulk send.

Every page starts from the user's sub-accounts (404 for another tenant's ids). Support staff see
everything and change nothing; "pause all" and the missed-call settings are for owners and agency
admins (the people the violation email goes to)."""

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import access
from accounts.models import SubAccount
from compliance.policy import get_policy
from messaging import bulk, services
from messaging.automations import controls, reports, triggers, workflows
from messaging.automations.forms import EnrollmentFilterForm, MissedCallForm, StepForm, WorkflowForm
from messaging.automations.models import Enrollment, Workflow, WorkflowStep
from messaging.automations.steps import describe, offset_text
from messaging.models import Campaign, Contact, Source
from messaging.providers import simulator
from messaging.sms import segments

ENROLLMENTS_PAGE = 50


def _sub_account(request, sub_account_id, *, acting=False, managing=False) -> SubAccount:
    """Other tenants: 404. `acting`: support staff look but do not act for a customer (403).
    `managing`: owners and agency admins only (403)."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    if acting and access.role_in(request.user, sub_account) == access.SUPPORT:
        raise PermissionDenied("Support staff do not change a customer's automations.")
    if managing and not access.can_manage(request.user, sub_account):
        raise PermissionDenied("Only sub-account owners and agency admins can do this.")
    return sub_account


def _workflow(request, sub_account_id, workflow_id, **role) -> Workflow:
    sub_account = _sub_account(request, sub_account_id, **role)
    return get_object_or_404(Workflow.objects.select_related("sub_account__agency", "trigger_tag"),
                             sub_account=sub_account, pk=workflow_id)  # fmt: skip


def trigger_text(workflow: Workflow) -> str:
    T = Workflow.Trigger
    if workflow.trigger == T.TAG_ADDED:
        return f"Tag “{workflow.trigger_tag.name if workflow.trigger_tag_id else '?'}” added"
    if workflow.trigger == T.KEYWORD:
        return f"Inbound text “{workflow.trigger_keyword}”"
    if workflow.trigger == T.DATE:
        field = workflow.get_trigger_date_field_display() or "?"
        return f"{offset_text(workflow.trigger_offset_minutes)} {field}".capitalize()
    return workflow.get_trigger_display()


# --- The list -------------------------------------------------------------------------------


@login_required
def automations_index(request, sub_account_id):
    sub_account = _sub_account(request, sub_account_id)
    listed = list(sub_account.workflows.order_by("name"))
    plans = {w.pk: [] for w in listed}
    for step in WorkflowStep.objects.filter(workflow__in=listed).select_related("tag").order_by("position"):
        plans[step.workflow_id].append(step)
    totals, per_step = reports.workflow_totals(listed), reports.step_counts([w.pk for w in listed])
    rows = [
        {"workflow": w, "trigger": trigger_text(w), "totals": totals.get(w.pk, {}),
         "steps": [{"step": s, "text": describe(s), "counts": per_step[w.pk][s.position]} for s in plans[w.pk]]}
        for w in listed
    ]  # fmt: skip
    context = {"sub_account": sub_account, "nav": "automations", "rows": rows,
               "campaigns": Campaign.objects.filter(sub_account=sub_account).running().count()}  # fmt: skip
    return render(request, "messaging/automations/index.html", context)


# --- A workflow -----------------------------------------------------------------------------


@login_required
def workflow_create(request, sub_account_id):
    sub_account = _sub_account(request, sub_account_id, acting=request.method == "POST")
    form = WorkflowForm(request.POST or None, sub_account=sub_account)
    if request.method == "POST" and form.is_valid():
        workflow = form.save(commit=False)
        workflow.created_by = request.user
        workflow.save()
        flash.success(request, f"Workflow “{workflow.name}” created as a draft: add its steps.")
        return redirect("workflow_edit", sub_account.pk, workflow.pk)
    return render(request, "messaging/automations/workflow_form.html",
                  {"sub_account": sub_account, "nav": "automations", "form": form})  # fmt: skip


def _builder_context(request, workflow, *, form=None, step_forms=None):
    sub_account = workflow.sub_account
    sample = bulk.sample_contact(sub_account.contacts.all())
    policy = get_policy()
    steps, first_send = [], True
    for step in workflow.steps.select_related("tag").order_by("position"):
        item = {"step": step, "text": describe(step)}
        if step.kind == WorkflowStep.Kind.SEND_SMS:
            item |= _composed(sub_account, sample, step.body, initial=first_send, policy=policy)
            first_send = False
        steps.append(item)
    kinds = WorkflowStep.Kind
    step_forms = step_forms or {}
    adders = [
        (kind, label, step_forms.get(kind) or StepForm(initial={"kind": kind}, sub_account=sub_account))
        for kind, label in kinds.choices
    ]
    return {
        "sub_account": sub_account, "nav": "automations", "workflow": workflow, "steps": steps, "adders": adders,
        "form": form or WorkflowForm(instance=workflow, sub_account=sub_account), "sample": sample,
        "problems": workflows.activation_problems(workflow) if workflow.status == Workflow.Status.DRAFT else [],
        "trigger": trigger_text(workflow),
    }  # fmt: skip


def _composed(sub_account, contact, body: str, *, initial: bool, policy) -> dict:
    """R5/R6 as they apply to source `workflow` (OPT_OUT_SOURCES): the exact text that goes."""
    text = services.compose_for(sub_account, contact, body, Source.WORKFLOW, initial, policy) if body else ""
    return {"composed": text, "count": segments(text), "initial": initial}


@login_required
def workflow_edit(request, sub_account_id, workflow_id):
    """The builder: settings and trigger (saved with this form), the steps (their own buttons)."""
    workflow = _workflow(request, sub_account_id, workflow_id, acting=request.method == "POST")
    form = None
    if request.method == "POST":
        form = WorkflowForm(request.POST, instance=workflow, sub_account=workflow.sub_account)
        if form.is_valid():
            form.save()
            flash.success(request, "Workflow saved.")
            return redirect("workflow_edit", workflow.sub_account_id, workflow.pk)
    return render(request, "messaging/automations/builder.html", _builder_context(request, workflow, form=form))


@login_required
@require_POST
def workflow_step_add(request, sub_account_id, workflow_id):
    workflow = _workflow(request, sub_account_id, workflow_id, acting=True)
    form = StepForm(request.POST, sub_account=workflow.sub_account)
    if not form.is_valid():
        kind = form.data.get("kind")
        context = _builder_context(request, workflow, step_forms={kind: form})
        return render(request, "messaging/automations/builder.html", context, status=400)
    try:
        workflows.step_add(workflow=workflow, **form.step_fields())
    except services.MessagingError as exc:
        flash.error(request, str(exc))
    return redirect("workflow_edit", workflow.sub_account_id, workflow.pk)


def _step(request, sub_account_id, workflow_id, step_id, **role) -> WorkflowStep:
    workflow = _workflow(request, sub_account_id, workflow_id, **role)
    return get_object_or_404(workflow.steps.select_related("tag", "workflow"), pk=step_id)


@login_required
def workflow_step_edit(request, sub_account_id, workflow_id, step_id):
    step = _step(request, sub_account_id, workflow_id, step_id, acting=request.method == "POST")
    sub_account = step.workflow.sub_account
    form = StepForm(request.POST or None, sub_account=sub_account, step=step)
    if request.method == "POST" and form.is_valid():
        fields = form.step_fields()
        fields.pop("kind")  # a step keeps its kind: remove it and add another instead
        try:
            workflows.step_update(step=step, **fields)
        except services.MessagingError as exc:
            flash.error(request, str(exc))
        return redirect("workflow_edit", sub_account.pk, step.workflow_id)
    context = {"sub_account": sub_account, "nav": "automations", "workflow": step.workflow, "step": step,
               "form": form}  # fmt: skip
    return render(request, "messaging/automations/step_form.html", context)


@login_required
@require_POST
def workflow_step_move(request, sub_account_id, workflow_id, step_id):
    step = _step(request, sub_account_id, workflow_id, step_id, acting=True)
    try:
        workflows.step_move(step=step, by=-1 if request.POST.get("direction") == "up" else 1)
    except services.MessagingError as exc:
        flash.error(request, str(exc))
    return redirect("workflow_edit", step.workflow.sub_account_id, step.workflow_id)


@login_required
@require_POST
def workflow_step_remove(request, sub_account_id, workflow_id, step_id):
    step = _step(request, sub_account_id, workflow_id, step_id, acting=True)
    try:
        workflows.step_remove(step=step)
        flash.success(request, f"Step {step.position + 1} removed.")
    except services.MessagingError as exc:
        flash.error(request, str(exc))
    return redirect("workflow_edit", step.workflow.sub_account_id, step.workflow_id)


@login_required
def step_compose(request, sub_account_id):
    """htmx: the composed text and segment count of a send step's body as it is typed."""
    sub_account = _sub_account(request, sub_account_id)
    body = (request.POST.get("body") or request.GET.get("body") or "").strip()
    context = {"sub_account": sub_account, "sample": bulk.sample_contact(sub_account.contacts.all()),
               "problem": workflows.body_problem(body) if body else ""}  # fmt: skip
    context |= _composed(sub_account, context["sample"], body, initial=True, policy=get_policy())
    return render(request, "messaging/automations/_composed.html", context)


ACTIONS = {
    "activate": (controls.workflow_activate, "Workflow activated: its trigger now enrolls contacts."),
    "pause": (controls.workflow_pause, "Workflow paused: nothing more is sent until you resume it."),
    "resume": (controls.workflow_resume, "Workflow resumed."),
    "stop": (controls.workflow_stop, "Workflow stopped: every contact in it is out, what it had queued is cancelled."),
}


@login_required
@require_POST
def workflow_status(request, sub_account_id, workflow_id):
    workflow = _workflow(request, sub_account_id, workflow_id, acting=True)
    action, said = ACTIONS.get(request.POST.get("action"), (None, ""))
    if action is None:
        flash.error(request, "Unknown action.")
        return redirect("workflow_detail", workflow.sub_account_id, workflow.pk)
    try:
        changed = action(workflow=workflow, user=request.user)
        (flash.success if changed is not False else flash.info)(
            request, said if changed is not False else f"The workflow is {workflow.get_status_display().lower()}."
        )
    except services.MessagingError as exc:
        flash.error(request, str(exc))
    return redirect("workflow_detail", workflow.sub_account_id, workflow.pk)


@login_required
def workflow_detail(request, sub_account_id, workflow_id):
    workflow = _workflow(request, sub_account_id, workflow_id)
    sub_account = workflow.sub_account
    filters = EnrollmentFilterForm(request.GET)
    enrollments = filters.apply(workflow.enrollments.select_related("contact"), sub_account.contacts.all())
    page = Paginator(enrollments.order_by("-enrolled_at"), ENROLLMENTS_PAGE).get_page(request.GET.get("page"))
    per_step = reports.step_counts([workflow.pk])[workflow.pk]
    steps = [{"step": s, "text": describe(s), "counts": per_step[s.position]}
             for s in workflow.steps.select_related("tag").order_by("position")]  # fmt: skip
    context = {"sub_account": sub_account, "nav": "automations", "workflow": workflow, "steps": steps,
               "totals": reports.workflow_totals([workflow]).get(workflow.pk, {}), "filters": filters,
               "page": page, "trigger": trigger_text(workflow)}  # fmt: skip
    return render(request, "messaging/automations/workflow_detail.html", context)


# --- An enrollment --------------------------------------------------------------------------


def _enrollment(request, sub_account_id, workflow_id, enrollment_id, **role) -> Enrollment:
    workflow = _workflow(request, sub_account_id, workflow_id, **role)
    return get_object_or_404(workflow.enrollments.select_related("contact", "workflow"), pk=enrollment_id)


@login_required
def enrollment_detail(request, sub_account_id, workflow_id, enrollment_id):
    enrollment = _enrollment(request, sub_account_id, workflow_id, enrollment_id)
    steps = list(enrollment.workflow.steps.order_by("position"))
    upcoming = steps[enrollment.position] if enrollment.is_active and enrollment.position < len(steps) else None
    log = enrollment.log.select_related("message").order_by("created_at", "id")
    context = {"sub_account": enrollment.workflow.sub_account, "nav": "automations", "enrollment": enrollment,
               "workflow": enrollment.workflow, "log": log, "upcoming": upcoming,
               "upcoming_text": describe(upcoming) if upcoming else ""}  # fmt: skip
    return render(request, "messaging/automations/enrollment_detail.html", context)


@login_required
@require_POST
def enrollment_unenroll(request, sub_account_id, workflow_id, enrollment_id):
    enrollment = _enrollment(request, sub_account_id, workflow_id, enrollment_id, acting=True)
    if triggers.unenroll(enrollment=enrollment, user=request.user):
        flash.success(request, f"{enrollment.contact} is out of “{enrollment.workflow.name}”.")
    else:
        flash.info(request, "This enrollment had already ended.")
    return redirect("enrollment_detail", enrollment.sub_account_id, enrollment.workflow_id, enrollment.pk)


# --- Campaigns and bulk sends ---------------------------------------------------------------


@login_required
def campaign_list(request, sub_account_id):
    """Bulk SMS scheduled for later, with their counts; each links to its report."""
    sub_account = _sub_account(request, sub_account_id)
    campaigns = bulk.bulk_history(sub_account).filter(scheduled_for__isnull=False).order_by("-scheduled_for")
    page = Paginator(campaigns, 20).get_page(request.GET.get("page"))
    return render(request, "messaging/automations/campaigns.html",
                  {"sub_account": sub_account, "nav": "automations", "page": page})  # fmt: skip


def _bulk_control(request, sub_account_id, bulk_id, run, said: str):
    sub_account = _sub_account(request, sub_account_id, acting=True)
    sent = get_object_or_404(sub_account.bulk_sends, pk=bulk_id)
    try:
        if run(bulk=sent, user=request.user) is False:
            flash.info(request, f"This send is {sent.get_status_display().lower()}.")
        else:
            flash.success(request, said)
    except services.MessagingError as exc:
        flash.error(request, str(exc))
    return redirect(_back(request, reverse("bulk_detail", args=[sub_account.pk, sent.pk])))


@login_required
@require_POST
def bulk_pause(request, sub_account_id, bulk_id):
    said = "Paused: nothing more is handed to the carrier until you resume."
    return _bulk_control(request, sub_account_id, bulk_id, controls.bulk_pause, said)


@login_required
@require_POST
def bulk_resume(request, sub_account_id, bulk_id):
    return _bulk_control(request, sub_account_id, bulk_id, controls.bulk_resume, "Resumed.")


@login_required
@require_POST
def bulk_cancel(request, sub_account_id, bulk_id):
    said = "Cancelled: what was still queued failed; what was already sent stays sent."
    return _bulk_control(request, sub_account_id, bulk_id, controls.bulk_cancel, said)


# --- The whole sub-account ------------------------------------------------------------------


@login_required
@require_POST
def sending_pause_all(request, sub_account_id):
    sub_account = _sub_account(request, sub_account_id, managing=True)
    try:
        pause = controls.sending_pause_all(sub_account=sub_account, user=request.user)
        flash.success(request, f"Sending paused: {pause.items} workflow(s), campaign(s) and bulk send(s) paused. "
                               "One-to-one messages and missed-call text back still go.")  # fmt: skip
    except services.MessagingError as exc:
        flash.error(request, str(exc))
    return redirect(_back(request, reverse("automations_index", args=[sub_account.pk])))


@login_required
@require_POST
def sending_resume_all(request, sub_account_id):
    sub_account = _sub_account(request, sub_account_id, managing=True)
    items = controls.sending_resume_all(sub_account=sub_account, user=request.user)
    flash.success(request, f"Sending resumed: {items} workflow(s), campaign(s) and bulk send(s).")
    return redirect(_back(request, reverse("automations_index", args=[sub_account.pk])))


def _back(request, default: str) -> str:
    """Back to the page the button was on (a path of this site only), else `default`."""
    back = request.POST.get("next", "")
    return back if url_has_allowed_host_and_scheme(back, allowed_hosts=None) and back.startswith("/") else default


# --- Missed-call text back ------------------------------------------------------------------


@login_required
def missed_call_settings(request, sub_account_id):
    """The built-in automation: on/off and the reply, with what a new caller and a known contact
    get (R5: a first text to someone who never texted in carries the opt-out language)."""
    sub_account = _sub_account(request, sub_account_id)
    can_edit = access.can_manage(request.user, sub_account)
    initial = {"enabled": sub_account.missed_call_text_back, "body": sub_account.missed_call_text_back_body}
    form = MissedCallForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only sub-account owners and agency admins can change the missed-call text back.")
        if form.is_valid():
            sub_account.missed_call_text_back = form.cleaned_data["enabled"]
            sub_account.missed_call_text_back_body = form.cleaned_data["body"]
            sub_account.save(update_fields=["missed_call_text_back", "missed_call_text_back_body"])
            flash.success(request, "Missed-call text back saved.")
            return redirect("missed_call_settings", sub_account.pk)
    body = (form.data.get("body") if form.is_bound else sub_account.missed_call_text_back_body) or ""
    context = {"sub_account": sub_account, "nav": "automations", "form": form, "can_edit": can_edit,
               "simulator": settings.SMS_BACKEND == "simulator", "numbers": bulk.sending_numbers(sub_account),
               "caller": _demo_caller(sub_account)} | _missed_call_preview(sub_account, body)  # fmt: skip
    return render(request, "messaging/automations/missed_call.html", context)


def _missed_call_preview(sub_account, body: str) -> dict:
    policy, body = get_policy(), body.strip()
    if not body:
        return {"new_caller": "", "known_caller": ""}
    new = Contact(sub_account=sub_account, phone="+12125550123", has_texted_in=False)
    known = Contact(sub_account=sub_account, phone="+12125550123", has_texted_in=True)
    compose = services.compose_for
    return {
        "new_caller": compose(sub_account, new, body, Source.MISSED_CALL_TEXT_BACK, True, policy),
        "known_caller": compose(sub_account, known, body, Source.MISSED_CALL_TEXT_BACK, True, policy),
        "follow_up": compose(sub_account, new, body, Source.MISSED_CALL_TEXT_BACK, False, policy),
    }


def _demo_caller(sub_account) -> str:
    """A number for the simulator's missed call: one in the 555-01xx range fiction uses that is no
    contact yet, so the text back is the first text (R5) and the contact is created."""
    taken = set(sub_account.contacts.filter(phone__startswith="+1212555").values_list("phone", flat=True))
    return next((f"+1212555{n:04d}" for n in range(900, 1000) if f"+1212555{n:04d}" not in taken), "+12125550999")


@login_required
@require_POST
def missed_call_simulate(request, sub_account_id):
    """Under the carrier simulator only: a call to one of our numbers that nobody answers, posted
    to the voice webhook like Twilio would, a moment later (an RQ job)."""
    sub_account = _sub_account(request, sub_account_id, acting=True)
    numbers = bulk.sending_numbers(sub_account)
    if settings.SMS_BACKEND != "simulator":
        flash.error(request, "Simulated calls need the carrier simulator (SMS_BACKEND=simulator, as under make run).")
    elif not numbers:
        flash.error(request, "This sub-account has no phone number to call.")
    else:
        caller = (request.POST.get("caller") or "").strip() or _demo_caller(sub_account)
        to = request.POST.get("to") if request.POST.get("to") in numbers else numbers[0]
        try:
            simulator.place_missed_call(caller=caller, to=to)
            flash.success(request, f"A missed call from {caller} to {to} is on its way: see Conversations in a moment.")
        except ValueError as exc:
            flash.error(request, str(exc))
    return redirect("missed_call_settings", sub_account.pk)
