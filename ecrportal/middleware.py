"""Project-wide middleware."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Adds a strict Content Security Policy: every script and style is served by us (no CDN).

    The simulator's pages and the API docs follow the same rule, so one policy fits all pages.
    """

    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'self'; object-src 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(settings, "ECR_CSP_ENABLED", True):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
