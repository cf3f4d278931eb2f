"""The Content-Security-Policy header, from settings.SECURE_CSP.

A static policy needs no library: no nonces, since no page has inline script. The setting has the
name and shape of Django 6.0's (`{"directive": ["source", ...]}`), whose own
ContentSecurityPolicyMiddleware replaces this one on upgrade."""

from django.conf import settings


def policy_header(policy: dict) -> str:
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


def _with_inline(policy: dict) -> dict:
    return {
        directive: [*sources, "'unsafe-inline'"] if directive in ("script-src", "style-src") else sources
        for directive, sources in policy.items()
    }


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.header = policy_header(settings.SECURE_CSP)
        # Third-party pages that cannot do without inline script and style (django-rq's
        # dashboard): the same policy with 'unsafe-inline' for those two.
        self.inline_header = policy_header(_with_inline(settings.SECURE_CSP))
        self.inline_paths = tuple(settings.CSP_INLINE_ALLOWED_PATHS)

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 400:
            # Django's debug error pages (make dev only) are styled and scripted inline.
            return response
        if "Content-Security-Policy" not in response:  # a view may set its own
            inline = self.inline_paths and request.path.startswith(self.inline_paths)
            response["Content-Security-Policy"] = self.inline_header if inline else self.header
        return response
