"""Login with a rate limit: a few wrong passwords per username, more per address, then a pause.

The limit is enforced by the authentication backend (`RateLimitedModelBackend`), so it holds for
every login path that checks a password: the dashboard's `/login/` and Django's `/admin/login/`
share one set of counters (a user locked out at one is locked out at the other). The dashboard's
view adds the Spanish "try later" page with status 429.

Counters live in the cache (shared by every process when REDIS_URL is set). Both keys count:
per username stops guessing one account from many addresses, per address stops spraying many
accounts from one place. The address limit is higher because one address may be a whole shop
behind NAT. Behind a reverse proxy set ECR_TRUSTED_PROXY_COUNT, or every client shares the
proxy's address. A successful login clears the username's counter.
"""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
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


def _limits(request, username: str) -> list[tuple[str, int]]:
    limits = [(_key("ip", _client_ip(request)), MAX_FAILURES_PER_ADDRESS)]
    if username:
        limits.append((_key("user", username), MAX_FAILURES))
    return limits


def login_locked(request, username: str) -> bool:
    """Whether this address or this username has used up its failures for now."""
    return any((cache.get(key) or 0) >= limit for key, limit in _limits(request, username))


def _count_failure(request, username: str) -> None:
    for key, _limit in _limits(request, username):
        if cache.add(key, 1, WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, WINDOW_SECONDS)


class RateLimitedModelBackend(ModelBackend):
    """Django's username/password backend behind the login limit, for every login path.

    A locked attempt raises PermissionDenied, which makes `authenticate()` stop at once without
    checking the password; a wrong password counts; a right one clears the username's counter.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:  # not a login (management commands, tests calling authenticate)
            return super().authenticate(request, username=username, password=password, **kwargs)
        name = username or ""
        if login_locked(request, name):
            raise PermissionDenied(LOCKED_MESSAGE)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            _count_failure(request, name)
        else:
            cache.delete(_key("user", name))
        return user


class LoginForm(AuthenticationForm):
    """Django's login form with the dashboard's voice (es-AR, voseo) instead of Spain's
    "Por favor, introduzca…", and a next step in each message."""

    error_messages = {
        "invalid_login": (
            "El usuario o la contraseña no son correctos. Revisalos (las mayúsculas cuentan) y "
            "probá de nuevo; si no te acordás la contraseña, pedile al dueño del comercio que "
            "te la cambie."
        ),
        "inactive": "Esta cuenta está desactivada. Pedile al dueño del comercio que la active.",
    }


class RateLimitedLoginView(auth_views.LoginView):
    """The dashboard's login: a locked attempt gets a Spanish explanation and status 429."""

    template_name = "registration/login.html"
    authentication_form = LoginForm

    def post(self, request, *args, **kwargs):
        if login_locked(request, request.POST.get("username", "")):
            # An unbound form: a locked attempt must not even check the password.
            form = self.get_form_class()(
                request=request, initial={"username": request.POST.get("username", "")}
            )
            form._errors = ErrorDict()
            form.cleaned_data = {}
            form.add_error(None, LOCKED_MESSAGE)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)
