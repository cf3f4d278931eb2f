from django.urls import path

from messaging import webhooks
from messaging.views import canned_replies, conversations, holds, phone_numbers, registration

S = "s/<uuid:sub_account_id>/"

urlpatterns = [
    path("webhooks/twilio/status", webhooks.status, name="twilio_status"),
    path("webhooks/twilio/inbound", webhooks.inbound, name="twilio_inbound"),
    path("webhooks/twilio/voice-status", webhooks.voice_status, name="twilio_voice_status"),
    path(S + "conversations/", conversations.conversation_list, name="conversation_list"),
    path(S + "conversations/poll/", conversations.conversation_poll, name="conversation_poll"),
    path(S + "conversations/replies/", canned_replies.canned_replies, name="canned_replies"),
    path(S + "conversations/replies/<uuid:reply_id>/", canned_replies.canned_reply_edit, name="canned_reply_edit"),
    path(S + "conversations/<uuid:contact_id>/", conversations.conversation, name="conversation"),
    path(S + "conversations/<uuid:contact_id>/read/", conversations.conversation_read, name="conversation_read"),
    path(S + "conversations/<uuid:contact_id>/send/", conversations.conversation_send, name="conversation_send"),
    path(
        S + "conversations/<uuid:contact_id>/messages/<uuid:message_id>/resend/",
        conversations.message_resend,
        name="message_resend",
    ),
    path(S + "settings/phone-numbers/", phone_numbers.phone_numbers, name="phone_numbers"),
    path(S + "settings/phone-numbers/buy/", phone_numbers.phone_number_buy, name="phone_number_buy"),
    path(S + "settings/phone-numbers/import/", phone_numbers.phone_number_import, name="phone_number_import"),
    path(
        S + "settings/phone-numbers/<uuid:number_id>/release/",
        phone_numbers.phone_number_release,
        name="phone_number_release",
    ),
    path(S + "settings/registration/", registration.registration, name="registration"),
    path(S + "settings/registration/<slug:kind>/", registration.registration, name="registration_kind"),
    path(
        S + "settings/registration/<slug:kind>/refresh/",
        registration.registration_refresh,
        name="registration_refresh",
    ),
    path("support/snowshoe/<uuid:hold_id>/decide/", holds.support_snowshoe_decide, name="support_snowshoe_decide"),
]
