"""Carrier registration through the provider (issue 17): submit a brand and campaign (A2P 10DLC)
or a toll-free verification, and read back where the review stands. One registrar per provider,
chosen by `SMS_BACKEND` like the provider itself; plain values in and out, no database here.

- Twilio, through its SDK: `messaging.v1.brand_registrations` (the brand, from the sub-account's
  Trust Hub customer profile and A2P profile bundles), then — once the brand is approved —
  `messaging.v1.services(TWILIO_MESSAGING_SERVICE_SID).us_app_to_person` (the campaign), or
  `messaging.v1.tollfree_verifications` for a toll-free number. Reviews take minutes to weeks;
  `registrations_sync` (cron) reads the statuses back.
- The simulator plays the reviewer: SIMULATOR_REVIEW_SECONDS after submission it approves, or
  rejects a brand whose website is a placeholder (example.com, .test, .invalid), as a real
  vetting would.
- The in-memory provider (tests) approves or rejects as the test tells it."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from twilio.base.exceptions import TwilioRestException

from messaging.providers import get_provider

SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"


@dataclass(frozen=True)
class RegistrationRequest:
    kind: str  # "10dlc" | "toll_free"
    legal_name: str
    website: str
    contact_email: str
    use_case: str
    description: str
    opt_in_description: str
    samples: list[str]
    monthly_volume: str = "1,000"
    tax_id: str = ""
    customer_profile_sid: str = ""
    a2p_profile_sid: str = ""
    toll_free_number_sid: str = ""  # the provider's sid of the toll-free number to verify
    brand_sid: str = ""  # already created (a campaign waits for its brand)
    campaign_sid: str = ""
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class RegistrationOutcome:
    status: str  # submitted | approved | rejected
    provider_status: str
    brand_sid: str = ""
    campaign_sid: str = ""
    reason: str = ""


class RegistrationRefused(Exception):
    """The provider refused the submission itself (missing bundle, bad field): the reason, to show."""


class TwilioRegistrar:
    def __init__(self, client):
        self.client = client

    def submit(self, req: RegistrationRequest) -> RegistrationOutcome:
        try:
            if req.kind == "toll_free":
                return self._submit_toll_free(req)
            if not (req.customer_profile_sid and req.a2p_profile_sid):
                raise RegistrationRefused(
                    "Twilio needs the Trust Hub customer profile and A2P profile of this business "
                    "(Twilio console → Trust Hub) before a brand can be registered."
                )
            brand = self.client.messaging.v1.brand_registrations.create(
                customer_profile_bundle_sid=req.customer_profile_sid, a2p_profile_bundle_sid=req.a2p_profile_sid
            )
        except TwilioRestException as exc:
            raise RegistrationRefused(f"Twilio refused the registration: {exc.msg}") from exc
        return self._brand_outcome(brand.sid, brand.status, brand.failure_reason, req)

    def fetch(self, req: RegistrationRequest) -> RegistrationOutcome:
        try:
            if req.kind == "toll_free":
                v = self.client.messaging.v1.tollfree_verifications(req.brand_sid).fetch()
                return self._toll_free_outcome(v.sid, v.status, v.rejection_reason)
            if req.campaign_sid:
                c = self._campaigns().us_app_to_person(req.campaign_sid).fetch()
                return self._campaign_outcome(req.brand_sid, c.sid, c.campaign_status, c.errors)
            brand = self.client.messaging.v1.brand_registrations(req.brand_sid).fetch()
        except TwilioRestException as exc:
            raise RegistrationRefused(f"Twilio refused the status request: {exc.msg}") from exc
        return self._brand_outcome(brand.sid, brand.status, brand.failure_reason, req)

    def _campaigns(self):
        return self.client.messaging.v1.services(settings.TWILIO_MESSAGING_SERVICE_SID)

    def _brand_outcome(self, sid, status, failure, req) -> RegistrationOutcome:
        if status == "FAILED":
            return RegistrationOutcome(
                REJECTED, f"brand {status}", sid, reason=failure or "The brand was not approved."
            )
        if status != "APPROVED":
            return RegistrationOutcome(SUBMITTED, f"brand {status}", sid)
        # The brand is approved: now the campaign, on the operator's messaging service.
        campaign = self._campaigns().us_app_to_person.create(
            brand_registration_sid=sid,
            description=req.description,
            message_flow=req.opt_in_description,
            message_samples=list(req.samples),
            us_app_to_person_usecase=req.use_case,
            has_embedded_links=any("http" in s for s in req.samples),
            has_embedded_phone=False,
        )
        return self._campaign_outcome(sid, campaign.sid, campaign.campaign_status, campaign.errors)

    @staticmethod
    def _campaign_outcome(brand_sid, sid, status, errors) -> RegistrationOutcome:
        if status == "VERIFIED":
            return RegistrationOutcome(APPROVED, f"campaign {status}", brand_sid, sid)
        if status == "FAILED":
            reason = (
                "; ".join(str(e.get("description") or e) for e in (errors or [])) or "The campaign was not approved."
            )
            return RegistrationOutcome(REJECTED, f"campaign {status}", brand_sid, sid, reason)
        return RegistrationOutcome(SUBMITTED, f"campaign {status}", brand_sid, sid)

    def _submit_toll_free(self, req: RegistrationRequest) -> RegistrationOutcome:
        if not req.toll_free_number_sid:
            raise RegistrationRefused("Add the toll-free number through the provider first: it has no provider id.")
        v = self.client.messaging.v1.tollfree_verifications.create(
            business_name=req.legal_name,
            business_website=req.website,
            notification_email=req.contact_email,
            use_case_categories=[req.use_case],
            use_case_summary=req.description,
            production_message_sample=req.samples[0],
            opt_in_image_urls=[req.website],
            opt_in_type="WEB_FORM",
            message_volume=req.monthly_volume,
            tollfree_phone_number_sid=req.toll_free_number_sid,
            additional_information=req.opt_in_description,
        )
        return self._toll_free_outcome(v.sid, v.status, v.rejection_reason)

    @staticmethod
    def _toll_free_outcome(sid, status, reason) -> RegistrationOutcome:
        if status == "TWILIO_APPROVED":
            return RegistrationOutcome(APPROVED, status, sid)
        if status == "TWILIO_REJECTED":
            return RegistrationOutcome(REJECTED, status, sid, reason=reason or "The verification was rejected.")
        return RegistrationOutcome(SUBMITTED, status, sid)


PLACEHOLDER_HOSTS = ("example.com", "example.org", "example.net")


class SimulatorRegistrar:
    """A reviewer that takes SIMULATOR_REVIEW_SECONDS and checks what a vetting can see."""

    def submit(self, req: RegistrationRequest) -> RegistrationOutcome:
        digest = hashlib.sha256(f"{req.kind}|{req.legal_name}|{req.website}".encode()).hexdigest()[:32]
        sid = ("TF" if req.kind == "toll_free" else "BN") + digest
        return RegistrationOutcome(SUBMITTED, "IN_REVIEW", sid)

    def fetch(self, req: RegistrationRequest) -> RegistrationOutcome:
        review = timedelta(seconds=settings.SIMULATOR_REVIEW_SECONDS)
        if req.submitted_at is None or timezone.now() < req.submitted_at + review:
            return RegistrationOutcome(SUBMITTED, "IN_REVIEW", req.brand_sid)
        host = (urlsplit(req.website).hostname or "").lower()
        placeholder = any(host == p or host.endswith("." + p) for p in PLACEHOLDER_HOSTS)
        if placeholder or host.endswith((".test", ".invalid", ".example")):
            reason = f"The brand could not be verified: {host} does not show the business {req.legal_name}."
            return RegistrationOutcome(REJECTED, "FAILED", req.brand_sid, reason=reason)
        campaign = "" if req.kind == "toll_free" else "CM" + req.brand_sid[2:]
        return RegistrationOutcome(APPROVED, "VERIFIED", req.brand_sid, campaign)


@dataclass
class MemoryRegistrar:
    """Tests: `decisions[legal_name]` = (status, reason) is what the next fetch answers."""

    decisions: dict = field(default_factory=dict)
    submitted: list = field(default_factory=list)

    def submit(self, req: RegistrationRequest) -> RegistrationOutcome:
        self.submitted.append(req)
        return RegistrationOutcome(SUBMITTED, "PENDING", f"BN{len(self.submitted):032d}")

    def fetch(self, req: RegistrationRequest) -> RegistrationOutcome:
        status, reason = self.decisions.get(req.legal_name, (SUBMITTED, ""))
        return RegistrationOutcome(status, status.upper(), req.brand_sid, "CM1" if status == APPROVED else "", reason)


MEMORY = MemoryRegistrar()


def get_registrar():
    provider = get_provider()
    if provider.name == "twilio":
        return TwilioRegistrar(provider.client)
    if provider.name == "simulator":
        return SimulatorRegistrar()
    return MEMORY
