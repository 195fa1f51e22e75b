"""The 500 page inside the site's layout, and the 403 of an htmx request as a box message.

Django's own `server_error` renders `500.html` without the request, so the page would lose the
navigation and the signed-in person's name. This one renders with the request, and falls back to
the request-less render when that fails too (the error may be the database the navigation asks).
404 needs nothing here: Django's view already renders `404.html` with the request; so does its
403 view for a whole page (the 403 shows the reason the dashboard computed). An htmx request
refused with 403 (a role removed mid-session) gets a small fragment instead, which
static/js/app.js swaps into the box that asked (htmx swaps no 4xx by itself, so the click
would otherwise do nothing and say nothing).
"""

import logging

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views import defaults

from ecrportal.middleware import current_path

# The response header that marks a refusal meant to be shown in the box (app.js looks for it).
REFUSAL_HEADER = "ECR-Refusal"

logger = logging.getLogger(__name__)


def server_error(request, template_name: str = "500.html"):
    template = loader.get_template(template_name)
    try:
        body = template.render({}, request)
    except Exception:  # noqa: BLE001 — the page must render whatever broke
        logger.warning("500 page rendered without the request", exc_info=True)
        body = template.render({})
    return HttpResponseServerError(body)


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
