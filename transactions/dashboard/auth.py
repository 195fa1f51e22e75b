"""Login with a rate limit: a few wrong passwords per username and per address, then a pause.

Counters live in the cache (shared by every process when REDIS_URL is set). Both keys count:
per username stops guessing one account from many addresses, per address stops spraying many
accounts from one place. A successful login clears the username's counter.
"""

import hashlib

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.forms.utils import ErrorDict

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCKED_MESSAGE = "Demasiados intentos fallidos. Esperá unos minutos antes de volver a intentar."


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:{kind}:{digest}"


def _client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "")


class RateLimitedLoginView(auth_views.LoginView):
    template_name = "registration/login.html"

    def _keys(self) -> list[str]:
        keys = [_key("ip", _client_ip(self.request))]
        username = self.request.POST.get("username", "")
        if username:
            keys.append(_key("user", username))
        return keys

    def _locked(self) -> bool:
        return any((cache.get(key) or 0) >= MAX_FAILURES for key in self._keys())

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
        for key in self._keys():
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
