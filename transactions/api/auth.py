"""`Authorization: Api-Key <key>`: the POS client (bound to one store) behind a request.

Checking a key is one indexed lookup by prefix and a SHA-256 comparison (see
`stores.services.pos_client_authenticate`): cheap enough for every request.
"""

from rest_framework import authentication, exceptions, permissions

from stores.models import PosClient
from stores.services import pos_client_authenticate

KEYWORD = "Api-Key"


class PosPrincipal:
    """`request.user` of an API request: who is asking, for code that expects a user-like object.

    It is never a Django user: views read `request.auth`, the `PosClient`.
    """

    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False

    def __init__(self, pos_client: PosClient):
        self.pos_client = pos_client

    def __str__(self) -> str:
        return f"POS {self.pos_client.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Reads `Authorization: Api-Key <key>`; a missing header leaves the request anonymous
    (the permission then answers 401), a wrong or revoked key is 401 at once."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, raw_key = header.strip().partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        client = pos_client_authenticate(raw_key=raw_key.strip())
        if client is None:
            raise exceptions.AuthenticationFailed("La clave de API no existe o fue revocada.")
        return PosPrincipal(client), client

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="api"'


class HasPosClient(permissions.BasePermission):
    """Only requests authenticated with a POS key; anything else is 401."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, PosClient)
