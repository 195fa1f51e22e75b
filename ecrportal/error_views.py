"""The 500 page inside the site's layout.

Django's own `server_error` renders `500.html` without the request, so the page would lose the
navigation and the signed-in person's name. This one renders with the request, and falls back to
the request-less render when that fails too (the error may be the database the navigation asks).
403 and 404 need nothing here: Django's views already render `403.html`/`404.html` with the
request (the 403 shows the reason the dashboard computed).
"""

import logging

from django.http import HttpResponseServerError
from django.template import loader

logger = logging.getLogger(__name__)


def server_error(request, template_name: str = "500.html"):
    template = loader.get_template(template_name)
    try:
        body = template.render({}, request)
    except Exception:  # noqa: BLE001 — the page must render whatever broke
        logger.warning("500 page rendered without the request", exc_info=True)
        body = template.render({})
    return HttpResponseServerError(body)
