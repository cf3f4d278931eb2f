from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        from messaging import lookups  # noqa: F401 - registers `__any` (importing it is the registration)
        from messaging.webhooks_out import receivers

        receivers.connect()
        checks.register(sms_backend_check, checks.Tags.compatibility, deploy=True)
        checks.register(webhooks_loopback_check, checks.Tags.security, deploy=True)


def sms_backend_check(app_configs, **kwargs):
    """`check --deploy`: production sends through Twilio. The simulator answers every message
    itself and the memory backend sends nothing: either in production is a silent outage."""
    if settings.SMS_BACKEND == "twilio":
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            return [checks.Error("SMS_BACKEND is twilio but TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is empty.",
                                 id="messaging.E001")]  # fmt: skip
        return []
    return [
        checks.Warning(
            f"SMS_BACKEND is {settings.SMS_BACKEND!r}: no message reaches a real phone.",
            hint="Set SMS_BACKEND=twilio with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in production.",
            id="messaging.W001",
        )
    ]


def webhooks_loopback_check(app_configs, **kwargs):
    """`check --deploy`: WEBHOOKS_ALLOW_LOOPBACK lets a sub-account's webhook reach this machine
    (plain http, loopback): in production, a way into services that trust localhost."""
    if not settings.WEBHOOKS_ALLOW_LOOPBACK:
        return []
    return [checks.Error("WEBHOOKS_ALLOW_LOOPBACK is on: webhook endpoints may point at this machine.",
                         hint="Unset WEBHOOKS_ALLOW_LOOPBACK in production (it is for development only).",
                         id="messaging.E002")]  # fmt: skip
