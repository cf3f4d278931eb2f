"""Settings → Business Info (R5, R6): the opt-out and sender texts appended to initial bulk
messages, with a live preview of what contacts will see. Every change is recorded."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render

from accounts import access
from accounts.models import SubAccount
from compliance.forms import BusinessInfoForm, KeywordRepliesForm
from compliance.models import BusinessInfoChange
from compliance.policy import get_policy
from compliance.rules import compose, merge
from compliance.views.keyword_replies import keyword_replies_context
from messaging.models import Source

SAMPLE_BODY = "Hi {first_name}, this is what your contacts will see."


def _business_preview(sub_account, data):
    """The initial bulk message as a contact will see it, from the (unsaved) form values."""
    business_name = (data.get("business_name") or sub_account.business_name).strip()
    return compose(
        merge(SAMPLE_BODY, {"first_name": "Alex"}),
        source=Source.BULK,
        is_initial=True,
        has_texted_in=False,
        business_name=business_name,
        opt_out_text=data.get("opt_out_text", ""),
        sender_text=data.get("sender_text", ""),
        policy=get_policy(),
    )


@login_required
def business_info(request, sub_account_id):
    """Owners and agency admins edit; other roles read. Every change is recorded (who, when,
    before/after)."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    can_edit = access.can_manage(request.user, sub_account)
    form = BusinessInfoForm(request.POST or None, instance=sub_account)
    # The keyword replies are checked against the business name saved with them.
    named = (request.POST.get("business_name") or sub_account.business_name).strip()
    keyword_form = KeywordRepliesForm(request.POST or None, instance=sub_account, business_name=named)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only sub-account owners and agency admins can edit Business Info.")
        if request.htmx and request.POST.get("preview"):
            return render(
                request,
                "compliance/business_info.html#preview",
                {"preview": _business_preview(sub_account, request.POST), "sub_account": sub_account},
            )
        if all([form.is_valid(), keyword_form.is_valid()]):  # both, so each shows its errors
            business_info_update(sub_account=sub_account, form=form, user=request.user, keyword_form=keyword_form)
            flash.success(request, "Business Info saved.")
            return redirect("business_info", sub_account.pk)
    # After a refused save the preview shows what contacts get now — the saved texts — not the
    # refused ones (re-read: the form may have set the valid fields on the instance).
    saved = SubAccount.objects.get(pk=sub_account.pk)
    return render(
        request,
        "compliance/business_info.html",
        {
            "sub_account": sub_account,
            "form": form,
            "can_edit": can_edit,
            "preview": _business_preview(saved, {
                "business_name": saved.business_name, "opt_out_text": saved.opt_out_text,
                "sender_text": saved.sender_text,
            }),
            "refused": form.is_bound and not form.is_valid(),
            "changes": sub_account.business_info_changes.select_related("user")[:20],
            "nav": "business",
            **keyword_replies_context(sub_account, keyword_form),
        },
    )  # fmt: skip


def business_info_update(*, sub_account, form, user, keyword_form=None):
    fields = form.Meta.fields + (keyword_form.RECORDED_FIELDS if keyword_form else [])
    before = {f: getattr(SubAccount.objects.get(pk=sub_account.pk), f) for f in fields}
    with transaction.atomic():
        form.save()
        if keyword_form:
            keyword_form.save()
        after = {f: getattr(sub_account, f) for f in fields}
        if before != after:
            BusinessInfoChange.objects.create(sub_account=sub_account, user=user, before=before, after=after)
