"""R3/R4/HELP: what a keyword texted by a contact does. The ledgers record it (compliance);
this module fails what was pending to the contact and sends the confirmation — in the same
transaction as storing the inbound text (`messaging.inbound`), so once a STOP is stored, every
message not yet handed to the carrier is already failed."""

from django.db import transaction
from django.utils import timezone

from compliance import ledger, monitoring, rules
from compliance.policy import get_policy
from messaging import webhooks_out
from messaging.automations import triggers as automations
from messaging.models import Message, Source
from messaging.services import message_send_one
from messaging.transitions import messages_fail

# Twilio's OptOutType → our keyword kinds.
PROVIDER_KINDS = {"STOP": rules.OPT_OUT, "START": rules.OPT_IN, "HELP": rules.HELP}


def keyword_handle(*, message: Message, opt_out_type: str = "") -> rules.Keyword:
    """R3/R4/HELP for an inbound text just stored. `opt_out_type` is Twilio's OptOutType: when
    present, Twilio already replied for that keyword, so the app does not reply again."""
    policy = get_policy()
    keyword = rules.classify_inbound(message.body, policy)
    provider_kind = PROVIDER_KINDS.get(opt_out_type.upper(), "")
    if provider_kind and keyword.kind != provider_kind:
        # The provider's keyword list decided it (it is the carrier-facing truth).
        keyword = rules.Keyword(provider_kind, "provider", opt_out_type.upper())
    provider_replied = bool(provider_kind)
    if keyword.kind == rules.OPT_OUT:
        _opt_out(message, keyword, provider_replied=provider_replied)
    elif keyword.kind == rules.OPT_IN:
        if ledger.opt_in_record(contact=message.contact, message=message, keyword=keyword):
            message.contact.refresh_from_db()
            webhooks_out.emit(message.sub_account_id, "contact.opted_in", _contact_data(message.contact, keyword))
            if not provider_replied:
                _reply(message, keyword)
    elif keyword.kind == rules.HELP and not provider_replied:
        _reply(message, keyword)
    return keyword


def _opt_out(message: Message, keyword: rules.Keyword, *, provider_replied: bool) -> None:
    """R3: consent revoked, permanent DND, every pending message to the contact failed — in one
    transaction — then exactly one confirmation (none if the provider sent its own, none to a
    contact already opted out)."""
    contact = message.contact
    with transaction.atomic():
        new = ledger.opt_out_record(contact=contact, message=message, keyword=keyword)  # locks the contact first
        automations.opt_out(contact=contact)  # ends every enrollment of the contact
        messages_fail(Message.objects.filter(contact=contact).unhanded(), reason=rules.OPTED_OUT, source="opt-out")
        if new:  # R8: one opt-out, counted (and the rates evaluated) in this transaction
            monitoring.count_opt_out(sub_account_id=contact.sub_account_id, now=timezone.now())
            webhooks_out.emit(contact.sub_account_id, "contact.opted_out", _contact_data(contact, keyword))
    contact.refresh_from_db()
    if new and not provider_replied:
        _reply(message, keyword)


def _contact_data(contact, keyword: rules.Keyword) -> dict:
    return {"contact_id": contact.pk, "phone": contact.phone, "keyword": keyword.matched}


# The sub-account's own text for each kind of keyword (Business Info → Keyword replies).
CUSTOM_REPLY_FIELDS = {
    rules.OPT_OUT: "opt_out_confirmation",
    rules.OPT_IN: "opt_in_confirmation",
    rules.HELP: "help_reply",
}


def _reply(inbound: Message, keyword: rules.Keyword) -> Message:
    """Keyword replies are compliance messages (source keyword_reply): exempt from DND, ramp,
    suspension and quiet hours, but stored and dispatched like any other (R3). The text is the
    sub-account's own in the language the contact wrote in, else the policy's in that language."""
    sub_account = inbound.sub_account
    own = {language: texts.get(keyword.kind, "") for language, texts in sub_account.other_language_replies.items()}
    own["en"] = getattr(sub_account, CUSTOM_REPLY_FIELDS[keyword.kind])
    body = rules.keyword_reply(
        kind=keyword.kind,
        language=keyword.language,
        own=own,
        business_name=sub_account.business_name,
        policy=get_policy(),
    )
    return message_send_one(sub_account=sub_account, contact=inbound.contact, body=body, source=Source.KEYWORD_REPLY)
