from accounts.models import SubAccount


def navigation(request):
    """The sub-account switcher: only the user's own sub-accounts; the current one comes from
    the URL (`sub_account_id`)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = request.resolver_match
    current_id = match.kwargs.get("sub_account_id") if match else None
    switchable = SubAccount.objects.visible_to(user).select_related("agency")
    return {
        "switchable_subaccounts": switchable,
        "current_subaccount_id": str(current_id) if current_id else "",
        "my_agencies": user.memberships.filter(agency__isnull=False).select_related("agency"),
    }
