"""Per-key throttling: each POS client has its own bucket (not per IP: many tills share a NAT)."""

from django.conf import settings
from django.core.cache import caches
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from stores.models import PosClient

# Used when settings do not name a rate for the `pos` scope. A till makes a few requests per
# sale (create, one or two long polls); 600 a minute leaves room for busy stores and retries.
DEFAULT_RATE = "600/min"


class PosClientRateThrottle(SimpleRateThrottle):
    """`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["pos"]`, keyed by the POS client's id.

    Answers 429 with `Retry-After` (the exception handler copies DRF's wait into the header).
    The windows live in the "pinned" cache (never culled, see settings): with REDIS_URL every
    process shares them and the throttle costs no SQL.
    """

    scope = "pos"

    @property
    def cache(self):
        return caches[settings.PINNED_CACHE]

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or DEFAULT_RATE

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, PosClient):
            return None  # unauthenticated requests never reach a view; nothing to count
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
