"""Project-wide middleware."""

from django.conf import settings
from django.utils.cache import add_never_cache_headers


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


class PrivateNoStoreMiddleware:
    """What a logged-in person or a POS key receives is never kept by a browser or a proxy.

    Pages, exports (CSV, XLSX) and API answers carry money, card data and receipts: a shared
    computer's back button or a caching proxy must not show them to the next person. Static files
    never get here (whitenoise answers them first, with their own long cache).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or "HTTP_AUTHORIZATION" in request.META:
            add_never_cache_headers(response)
        return response
