"""Login with a rate limit: a few wrong passwords per username, more per address, then a pause.

Counters live in the cache (shared by every process when REDIS_URL is set). Both keys count:
per username stops guessing one account from many addresses, per address stops spraying many
accounts from one place. The address limit is higher because one address may be a whole shop
behind NAT. Behind a reverse proxy set ECR_TRUSTED_PROXY_COUNT, or every client shares the
proxy's address. A successful login clears the username's counter.
"""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.forms.utils import ErrorDict

MAX_FAILURES = 5  # per username
MAX_FAILURES_PER_ADDRESS = 50
WINDOW_SECONDS = 15 * 60
LOCKED_MESSAGE = "Demasiados intentos fallidos. Esperá unos minutos antes de volver a intentar."


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:{kind}:{digest}"


def _client_ip(request) -> str:
    """The client's address. X-Forwarded-For is client-controlled except for the entries our own
    proxies appended: with N trusted proxies, the client is the N-th entry from the right."""
    hops = settings.ECR_TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


class RateLimitedLoginView(auth_views.LoginView):
    template_name = "registration/login.html"

    def _limits(self) -> list[tuple[str, int]]:
        limits = [(_key("ip", _client_ip(self.request)), MAX_FAILURES_PER_ADDRESS)]
        username = self.request.POST.get("username", "")
        if username:
            limits.append((_key("user", username), MAX_FAILURES))
        return limits

    def _locked(self) -> bool:
        return any((cache.get(key) or 0) >= limit for key, limit in self._limits())

    def post(self, request, *args, **kwargs):
        if self._locked():
            # An unbound form: a locked attempt must not even check the password.
            form = self.get_form_class()(
                request=request, initial={"username": request.POST.get("username", "")}
            )
            form._errors = ErrorDict()
            form.cleaned_data = {}
            form.add_error(None, LOCKED_MESSAGE)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key, _limit in self._limits():
            if cache.add(key, 1, WINDOW_SECONDS):
                continue
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.set(key, 1, WINDOW_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete(_key("user", self.request.POST.get("username", "")))
        return super().form_valid(form)
