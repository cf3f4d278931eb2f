"""Support staff's queues in the sidebar, each with what is waiting for them (lazy: counted
only when the sidebar renders, and only for support staff)."""

from functools import cached_property

from django.urls import reverse

from accounts.context_processors import active_key
from compliance.models import Appeal, LimitExtensionRequest, SnowshoeHold


class SupportQueues:
    def __init__(self, path: str):
        self.path = path

    @cached_property
    def items(self):
        def item(key, label, icon, count=None, exact=False):
            return {"key": key, "label": label, "icon": icon, "url": reverse(key), "count": count, "exact": exact}

        items = [
            item("support_home", "All agencies", "home", exact=True),
            item("support_appeals", "Suspension appeals", "shield",
                 Appeal.objects.filter(status=Appeal.Status.SUBMITTED).count()),
            item("support_limit_requests", "Limit extensions", "trend",
                 LimitExtensionRequest.objects.pending().count()),
            item("support_snowshoe", "Snowshoeing holds", "layers", SnowshoeHold.objects.pending_review().count()),
            item("support_risk", "Rate risk", "alert"),
        ]  # fmt: skip
        active = active_key(items, self.path)
        return [i | {"active": i["key"] == active} for i in items]


def support_queues(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_support_staff:
        return {}
    return {"support_queues": SupportQueues(request.path)}
