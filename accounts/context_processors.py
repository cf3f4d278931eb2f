"""What every page's shell (templates/_sidebar.html) shows: the sub-account's sections, the
account switcher, the user's agencies and role. `shell` is lazy: an htmx partial that never
renders the sidebar runs none of its queries."""

from functools import cached_property

from django.urls import reverse

from accounts import access
from accounts.models import SubAccount

# The switcher lists this many sub-accounts; past that it says how many more and the search
# (server-side, accounts.views.switch) finds the rest.
SWITCHER_LIMIT = 8

# (key, label, icon, url name): a sub-account's sidebar. Keys are what views pass as `nav`.
SECTIONS = [
    ("dashboard", "Dashboard", "dashboard", "subaccount_dashboard"),
    ("conversations", "Conversations", "chat", "conversation_list"),
    ("contacts", "Contacts", "users", "contact_list"),
    ("bulk", "Bulk SMS", "send", "bulk_index"),
    ("automations", "Automations", "zap", "automations_index"),
]
SETTINGS = [
    ("business", "Business Info", "info", "business_info"),
    ("settings", "Phone numbers", "phone", "phone_numbers"),
    ("registration", "Registration", "shield", "registration"),
    ("api", "API keys", "key", "api_key_list"),
    ("webhooks", "Webhooks", "webhook", "webhook_list"),
]


def _items(entries, sub_account_id):
    return [
        {"key": key, "label": label, "icon": icon, "url": reverse(name, args=[sub_account_id])}
        for key, label, icon, name in entries
    ]


def active_key(items, path: str) -> str:
    """The item whose URL is the longest prefix of the path (the dashboard, and an item marked
    `exact`, only for itself), for pages whose view does not say `nav`."""
    best, best_len = "", 0
    for item in items:
        url = item["url"]
        exact_only = item.get("exact", item["key"] == "dashboard")
        if (path == url or (not exact_only and path.startswith(url))) and len(url) > best_len:
            best, best_len = item["key"], len(url)
    return best


class Shell:
    def __init__(self, request):
        self.request = request
        self.user = request.user
        match = request.resolver_match
        self.current_id = str(match.kwargs.get("sub_account_id") or "") if match else ""

    @cached_property
    def visible(self):
        return SubAccount.objects.visible_to(self.user).select_related("agency")

    @cached_property
    def current(self):
        """The sub-account of the URL, if this user may see it (else no sections: the page 404s)."""
        if not self.current_id:
            return None
        return self.visible.filter(pk=self.current_id).first()

    @cached_property
    def sections(self):
        return _items(SECTIONS, self.current.pk) if self.current else []

    @cached_property
    def settings(self):
        return _items(SETTINGS, self.current.pk) if self.current else []

    @cached_property
    def active(self):
        return active_key(self.sections + self.settings, self.request.path)

    @cached_property
    def switcher_count(self):
        return self.visible.count()

    @cached_property
    def switcher_results(self):
        return list(self.visible[:SWITCHER_LIMIT])

    @cached_property
    def switcher_more(self):
        return max(self.switcher_count - SWITCHER_LIMIT, 0)

    @cached_property
    def show_switcher(self):
        """Agency people and support always (they move between businesses); a sub-account user
        only with more than one."""
        return self.user.is_support_staff or bool(self.agencies) or self.switcher_count > 1

    @cached_property
    def agencies(self):
        """The user's agencies as sidebar items (their page lists the agency's sub-accounts)."""
        memberships = self.user.memberships.filter(agency__isnull=False).select_related("agency")
        items = [  # fmt: skip
            {
                "key": str(m.agency_id),
                "label": m.agency.name,
                "icon": "home",
                "url": reverse("agency_detail", args=[m.agency_id]),
            }
            for m in memberships
        ]
        active = active_key(items, self.request.path)
        return [item | {"active": item["key"] == active} for item in items]

    @cached_property
    def role(self):
        if self.current:
            return access.role_in(self.user, self.current)
        if self.user.is_support_staff:
            return access.SUPPORT
        first = self.user.memberships.order_by("role").first()
        return first.role if first else None


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"shell": Shell(request)}
