"""Settings → Business Info → Keyword replies (R3/R4/HELP): the sub-account's HELP reply and
opt-out/opt-in confirmations, in English and the other languages the policy knows, edited with
the rest of Business Info (one form, one Save: a HELP reply is checked against the business name
saved with it), each with a live preview of the text a contact gets."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_POST

from accounts import access
from accounts.models import SubAccount
from compliance.forms import KeywordRepliesForm
from compliance.policy import get_policy
from compliance.rules import keyword_reply


def _languages(policy):
    return [code for code in policy.KEYWORD_LANGUAGES if code != "en"]


def keyword_previews(sub_account, data) -> dict[str, str]:
    """Each reply as a contact gets it, by form field name, from (unsaved) form values."""
    business_name = (data.get("business_name") or sub_account.business_name).strip()
    policy = get_policy()
    previews = {}
    for name, kind in KeywordRepliesForm.KINDS.items():
        own = {"en": data.get(name, "")} | {code: data.get(f"{code}_{name}", "") for code in _languages(policy)}
        for code in ["en", *_languages(policy)]:
            field = name if code == "en" else f"{code}_{name}"
            previews[field] = keyword_reply(kind=kind, language=code, own=own, business_name=business_name,
                                            policy=policy)  # fmt: skip
    return previews


def saved_values(sub_account) -> dict[str, str]:
    """The saved texts under the form's field names."""
    values = {"business_name": sub_account.business_name}
    for name, kind in KeywordRepliesForm.KINDS.items():
        values[name] = getattr(sub_account, name)
        for code, texts in (sub_account.other_language_replies or {}).items():
            values[f"{code}_{name}"] = texts.get(kind, "")
    return values


def keyword_replies_context(sub_account, keyword_form) -> dict:
    """The page's keyword section: the form and the previews of what is saved — read afresh, so
    a refused save never shows the refused text as what contacts get."""
    policy = get_policy()
    previews = keyword_previews(sub_account, saved_values(SubAccount.objects.get(pk=sub_account.pk)))

    def rows(fields):
        return [(field, field.name, previews[field.name]) for field in fields]

    return {
        "keyword_form": keyword_form,
        "keyword_rows": rows(keyword_form.english_fields()),
        "keyword_languages": [
            {
                "code": code,
                "language": policy.LANGUAGE_NAMES.get(code, code),
                "rows": rows(keyword_form.language_fields(code)),
            }
            for code in _languages(policy)
        ],  # fmt: skip
    }


@require_POST
@login_required
def keyword_replies_preview(request, sub_account_id):
    """htmx: every preview as an out-of-band swap, from the form as it is being typed."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    if not access.can_manage(request.user, sub_account):
        raise PermissionDenied("Only sub-account owners and agency admins can edit Business Info.")
    previews = keyword_previews(sub_account, request.POST)
    return render(request, "compliance/_keyword_replies.html#oob_previews", {"previews": list(previews.items())})
