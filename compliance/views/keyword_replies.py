"""Settings → Business Info → Keyword replies (R3/R4/HELP): the sub-account's HELP reply and
opt-out/opt-in confirmations, edited with the rest of Business Info (one form, one Save: a
HELP reply is checked against the business name saved with it), each with a live preview of
the text a contact gets."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_POST

from accounts import access
from accounts.models import SubAccount
from compliance.forms import KeywordRepliesForm
from compliance.policy import get_policy
from compliance.rules import REPLY_KINDS, default_reply, fill_business_name, keyword_reply

LANGUAGE_NAMES = {"es": "Spanish", "fr": "French"}


def keyword_previews(sub_account, data) -> dict[str, str]:
    """Each reply as a contact who writes in English gets it, from (unsaved) form values."""
    business_name = (data.get("business_name") or sub_account.business_name).strip()
    policy = get_policy()
    return {
        name: keyword_reply(kind=kind, language="en", custom=data.get(name, ""), business_name=business_name,
                            policy=policy)
        for name, kind in KeywordRepliesForm.KINDS.items()
    }  # fmt: skip


def other_language_replies(business_name: str) -> list[dict]:
    """What a contact who writes in another language gets (the policy's texts: a sub-account's
    own replies are English)."""
    policy = get_policy()
    return [
        {
            "code": code,
            "language": LANGUAGE_NAMES.get(code, code),
            "replies": [fill_business_name(default_reply(kind, code, policy), business_name) for kind in REPLY_KINDS],
        }
        for code in policy.KEYWORD_REPLIES
    ]


def keyword_replies_context(sub_account, keyword_form) -> dict:
    """The page's keyword section: the form and the previews of what is saved — read afresh, so
    a refused save never shows the refused text as what contacts get."""
    saved = SubAccount.objects.get(pk=sub_account.pk)
    values = {name: getattr(saved, name) for name in KeywordRepliesForm.Meta.fields}
    previews = keyword_previews(saved, values | {"business_name": saved.business_name})
    return {
        "keyword_form": keyword_form,
        "keyword_rows": [(keyword_form[name], name, previews[name]) for name in KeywordRepliesForm.Meta.fields],
        "other_languages": other_language_replies(saved.business_name),
    }


@require_POST
@login_required
def keyword_replies_preview(request, sub_account_id):
    """htmx: the three previews as out-of-band swaps, from the form as it is being typed."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    if not access.can_manage(request.user, sub_account):
        raise PermissionDenied("Only sub-account owners and agency admins can edit Business Info.")
    previews = keyword_previews(sub_account, request.POST)
    return render(
        request,
        "compliance/_keyword_replies.html#oob_previews",
        {"previews": list(previews.items())},
    )
