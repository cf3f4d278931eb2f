"""Sign-in forms: Django's password reset and set-password forms, throttled and unlocking."""

import logging
import time

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import forms as auth_forms

from accounts.throttle import client_ip, take

log = logging.getLogger(__name__)


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's, with the emails throttled per address and per client address (each at most
    `PASSWORD_RESET_EMAILS_PER_…` in a row, then that many an hour). The page answers the same
    either way: saying "too many" would tell who has an account."""

    def save(self, *args, request=None, **kwargs):
        email, ip = self.cleaned_data["email"].strip().lower(), client_ip(request)
        # Both are counted on every request, so neither an address nor a client can spend the
        # other's allowance to get past it.
        per_address = _reset_allowance(f"throttle:reset:email:{email}", settings.PASSWORD_RESET_EMAILS_PER_ADDRESS)
        per_ip = _reset_allowance(f"throttle:reset:ip:{ip}", settings.PASSWORD_RESET_EMAILS_PER_IP)
        if per_address and per_ip:
            super().save(*args, request=request, **kwargs)
        else:
            log.warning("password reset email not sent: %s over its limit", "the address" if not per_address else ip)


def _reset_allowance(key: str, per_hour: int) -> bool:
    decision = take(key, rate=per_hour, period=3600, burst=per_hour, now=time.time())
    # Redis down: still send. A reset email is how a locked-out user gets back in, and the
    # login lockout (django-axes, in the database) does not depend on Redis.
    return decision is None or decision.allowed


class SetPasswordForm(auth_forms.SetPasswordForm):
    """Django's, and a new password set from a reset link lifts the account's login lockouts:
    whoever holds the mailbox has proved it is theirs."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        axes_reset(username=user.get_username())
        return user
