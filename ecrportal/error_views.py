"""The 500 page inside the site's layout, and the 403 of an htmx request as a box message.

Django's own `server_error` renders `500.html` without the request, so the page would lose the
navigation and the signed-in person's name. This one renders with the request, and falls back to
the request-less render when that fails too (the error may be the database the navigation asks).
404 needs nothing here: Django's view already renders `404.html` with the request; so does its
403 view for a whole page (the 403 shows the reason the dashboard computed). An htmx request
refused with 403 (a role removed mid-session) gets a small fragment instead, which
static/js/app.js swaps into the box that asked (htmx swaps no 4xx by itself, so the click
would otherwise do nothing and say nothing).

A 500 or an expired CSRF token on an htmx request gets a fragment marked with PROBLEM_HEADER:
app.js shows it in the page's problem bar and leaves the box that asked as it was (a live box
keeps polling; a whole error page swapped into it would stop it and nest the layout).
"""

import logging

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views import csrf, defaults

from ecrportal.middleware import current_path

# The response header that marks a refusal meant to be shown in the box (app.js looks for it).
REFUSAL_HEADER = "ECR-Refusal"
# The response header that marks a problem for the page's problem bar (app.js looks for it).
PROBLEM_HEADER = "ECR-Problem"

logger = logging.getLogger(__name__)


def _is_htmx(request) -> bool:
    return request is not None and request.headers.get("HX-Request") == "true"


def _problem(request, template_name: str, status: int):
    response = render(request, template_name, {"current": current_path(request)}, status=status)
    response.headers[PROBLEM_HEADER] = "1"
    return response


def server_error(request, template_name: str = "500.html"):
    if _is_htmx(request):
        try:
            return _problem(request, "_failed.html", 500)
        except Exception:  # noqa: BLE001 — fall back to the plain page below
            logger.warning("500 fragment rendered without the request", exc_info=True)
    template = loader.get_template(template_name)
    try:
        body = template.render({}, request)
    except Exception:  # noqa: BLE001 — the page must render whatever broke
        logger.warning("500 page rendered without the request", exc_info=True)
        body = template.render({})
    return HttpResponseServerError(body)


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: Django's Spanish page (403_csrf.html), or for htmx the fragment."""
    if _is_htmx(request):
        return _problem(request, "_expired.html", 403)
    return csrf.csrf_failure(request, reason=reason)


def permission_denied(request, exception=None, template_name: str = "403.html"):
    if request.headers.get("HX-Request") != "true":
        return defaults.permission_denied(request, exception, template_name=template_name)
    reason = str(exception or "") or "Tu rol ya no permite esta acción."
    response = render(
        request,
        "_refused.html",
        {"reason": reason, "current": current_path(request)},
        status=403,
    )
    response.headers[REFUSAL_HEADER] = "1"
    return response
