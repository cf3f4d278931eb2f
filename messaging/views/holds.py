"""R11, support's decision on a snowshoeing hold: it releases or fails the held messages, which
only messaging does (the hold's pages are compliance's, `compliance.views.holds`)."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts import access
from compliance.errors import ComplianceError
from compliance.forms import SnowshoeDecisionForm
from compliance.models import SnowshoeHold
from messaging import holds


@login_required
@require_POST
def support_snowshoe_decide(request, hold_id):
    access.require_support(request.user)
    hold = get_object_or_404(SnowshoeHold.objects.select_related("sub_account"), pk=hold_id)
    form = SnowshoeDecisionForm(request.POST)
    if not form.is_valid():
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("support_snowshoe")
    accept = form.cleaned_data["decision"] == "accept"
    try:
        count = holds.snowshoe_decide(hold=hold, accept=accept, note=form.cleaned_data["note"], user=request.user)
    except ComplianceError as exc:
        flash.error(request, str(exc))
    else:
        done = "released" if accept else "failed"
        flash.success(
            request, f"Hold for {hold.sub_account} {hold.get_status_display().lower()}: {count} message(s) {done}."
        )
    return redirect("support_snowshoe")
