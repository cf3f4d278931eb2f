"""Tenants and people: agencies, their sub-accounts (one per business), memberships with
roles, and the operator's support staff (POLICY "Who is who")."""

import uuid
import zoneinfo

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """Logs in with an email address. `is_support_staff` marks the operator's support people,
    who see every agency (R9 appeals, limit extensions, justifications)."""

    username = None
    email = models.EmailField("email address", unique=True)
    is_support_staff = models.BooleanField(
        default=False, help_text="Operator support: reviews appeals across all agencies."
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    def __str__(self):
        return self.email


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Agency(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self):
        return self.name


class SubAccountQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The sub-accounts a user may see: through an agency membership (all of that agency's),
        a sub-account membership, or everything for support staff."""
        if not user.is_authenticated:
            return self.none()
        if user.is_support_staff:
            return self.all()
        return self.filter(Q(agency__memberships__user=user) | Q(memberships__user=user)).distinct()

    def matching(self, q: str):
        """The account switcher's search: every word in the name, business name or agency name."""
        found = self
        for word in q.split():
            found = found.filter(
                Q(name__icontains=word) | Q(business_name__icontains=word) | Q(agency__name__icontains=word)
            )
        return found


class SubAccount(models.Model):
    """One business of an agency (a "location"). Empty opt-out/sender texts mean the POLICY
    defaults (R5, R6)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="sub_accounts")
    name = models.CharField(max_length=200)
    business_name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="America/New_York", validators=[validate_time_zone])
    opt_out_text = models.CharField(max_length=160, blank=True, help_text="Empty: “Reply STOP to unsubscribe” (R5).")
    sender_text = models.CharField(max_length=160, blank=True, help_text="Empty: “Thanks, <Business name>” (R6).")
    # The keyword replies (R3/R4/HELP), English; empty means the policy's default text. Checked
    # when saved (compliance.rules.keyword_reply_problem); {business_name} is filled in.
    help_reply = models.CharField(max_length=320, blank=True)
    opt_out_confirmation = models.CharField(max_length=320, blank=True)
    opt_in_confirmation = models.CharField(max_length=320, blank=True)
    # The same three in other languages: {"es": {"help": …, "opt_out": …, "opt_in": …}, "fr": …};
    # a missing or empty text means the policy's text in that language (KEYWORD_REPLIES).
    other_language_replies = models.JSONField(default=dict, blank=True)
    missed_call_text_back = models.BooleanField(default=False)
    missed_call_text_back_body = models.CharField(
        max_length=320, blank=True, default="Sorry we missed your call! How can we help?"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubAccountQuerySet.as_manager()

    class Meta:
        ordering = ["agency__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="subaccount_unique_name_per_agency"),
        ]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", "Agency admin"
    AGENCY_STAFF = "agency_staff", "Agency staff"
    SUBACCOUNT_OWNER = "subaccount_owner", "Sub-account owner"
    SUBACCOUNT_USER = "subaccount_user", "Sub-account user"


AGENCY_ROLES = (Role.AGENCY_ADMIN, Role.AGENCY_STAFF)
SUBACCOUNT_ROLES = (Role.SUBACCOUNT_OWNER, Role.SUBACCOUNT_USER)


class Membership(models.Model):
    """A user's role in one agency (agency roles) or one sub-account (sub-account roles)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    sub_account = models.ForeignKey(
        SubAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="membership_role_valid", condition=Q(role__in=[r.value for r in Role])),
            models.CheckConstraint(
                name="membership_scope_matches_role",
                condition=(
                    Q(role__in=[r.value for r in AGENCY_ROLES], agency__isnull=False, sub_account__isnull=True)
                    | Q(role__in=[r.value for r in SUBACCOUNT_ROLES], agency__isnull=True, sub_account__isnull=False)
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "agency"], name="membership_unique_user_agency", condition=Q(agency__isnull=False)
            ),
            models.UniqueConstraint(
                fields=["user", "sub_account"],
                name="membership_unique_user_subaccount",
                condition=Q(sub_account__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} of {self.agency or self.sub_account}"
