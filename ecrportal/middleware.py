"""Project-wide middleware."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape


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


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session ended is sent to the login page as a whole page.

    `login_required` answers an anonymous request with a 302 to the login page; the browser
    follows it inside the XMLHttpRequest and htmx would swap the whole login page into the live
    box that asked (the charge result, a polled panel). Instead the answer tells htmx to leave
    the page (`HX-Redirect`), with `next` set to the page the person was on (`HX-Current-URL`),
    not to the fragment's URL. The body says the same in words, for a client that does not
    follow the header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code not in (301, 302):
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        location = response.headers.get("Location", "")
        if urlsplit(location).path != login_path:
            return response
        target = f"{login_path}?{urlencode({'next': current_path(request)})}"
        answer = HttpResponse(
            '<div class="session-ended" role="alert"><p>Tu sesión terminó. '
            f'<a href="{escape(target)}">Ingresá de nuevo</a> para seguir.</p></div>'
        )
        answer.headers["HX-Redirect"] = target
        add_never_cache_headers(answer)
        return answer


def current_path(request) -> str:
    """The path (and query) of the page the person was on, when it is on this site; else "/"."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.netloc and current.netloc != request.get_host():
        return "/"
    path = current.path or "/"
    return f"{path}?{current.query}" if current.query else path
