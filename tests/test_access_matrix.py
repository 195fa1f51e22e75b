"""Every route of the dashboard and of the POS API, generated from the URLconfs, against every
kind of caller: anonymous, an outsider, each role, and (API) the POS key of the store and of
another store.

The expectations come from `ACCESS` (route -> action and how it is checked) and from
`stores.permissions`, never from the views. A route missing from `ACCESS` fails
`test_every_route_is_in_the_table`: a new route cannot ship without saying who may use it.

Refusals must change nothing: the rows of `stores` and `transactions` are compared before and
after, and the services (replaced by recorders here: no provider is reached) must not be called.
"""

from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from stores import permissions
from stores.models import Credential, Integrator, Membership, PosClient, Store
from stores.roles import Action, Role
from stores.selectors import merchant_list_for_user, store_list_for_user
from tests import factories

pytestmark = pytest.mark.django_db

PUBLIC = "public"


@dataclass(frozen=True)
class Access:
    """Who may use a route.

    `action`: the `stores.roles.Action` it needs, or PUBLIC.
    `target`: the kind of object its `public_id` names (None: the route names no object).
    `where`: how the action is checked (see `_allowed`): "store" (a role on the object's store,
    or on some store when there is no object), "merchant" (a merchant-wide role), "integrator"
    (one of an integrator's people), "signed_in"
    (any signed-in person: the page lists only what the selectors let through), "pos" (an API
    key; the object must be of the key's store).
    `method`: how it is requested: GET for pages, POST for POST-only routes.
    `query`: a query string the route needs to be served (e.g. a period).
    """

    action: str
    target: str | None = None
    where: str = "store"
    method: str = "get"
    query: str = ""


ACCESS: dict[str, Access] = {
    # Dashboard: pages
    "dashboard:home": Access(Action.VIEW, where="signed_in"),
    "dashboard:terminal_detail": Access(Action.VIEW, "terminal"),
    "dashboard:terminal_live": Access(Action.VIEW, "terminal"),
    "dashboard:terminal_today": Access(Action.VIEW, "terminal"),
    "dashboard:terminal_charge": Access(Action.CHARGE, "terminal"),
    "dashboard:terminal_refund": Access(Action.REFUND_UNREFERENCED, "terminal", method="post"),
    "dashboard:intent_list": Access(Action.VIEW, where="signed_in"),
    "dashboard:intent_export_csv": Access(Action.VIEW, where="signed_in"),
    "dashboard:intent_detail": Access(Action.VIEW, "intent"),
    "dashboard:intent_panel": Access(Action.VIEW, "intent"),
    "dashboard:intent_live": Access(Action.VIEW, "intent"),
    "dashboard:batch_index": Access(Action.VIEW, where="signed_in"),
    "dashboard:batch_progress": Access(Action.VIEW, where="signed_in"),
    "dashboard:batch_detail": Access(Action.VIEW, "batch"),
    "dashboard:approval_list": Access(Action.APPROVE),
    "dashboard:daily_report": Access(Action.VIEW_REPORTS),
    "dashboard:daily_report_csv": Access(Action.VIEW_REPORTS),
    "dashboard:daily_report_xlsx": Access(Action.VIEW_REPORTS),
    "dashboard:daily_report_operations_csv": Access(Action.VIEW_REPORTS),
    "dashboard:report_email_preference": Access(Action.VIEW_REPORTS, method="post"),
    "dashboard:period_report_xlsx": Access(
        Action.VIEW_REPORTS, query="desde=2026-01-01&hasta=2026-01-31"
    ),
    "dashboard:search": Access(Action.VIEW, where="signed_in"),
    "dashboard:attention_badge": Access(Action.VIEW, where="signed_in"),
    "dashboard:terminal_fleet": Access(Action.VIEW, where="signed_in"),
    "dashboard:intent_receipt": Access(Action.VIEW, "intent"),
    "dashboard:intent_receipt_send": Access(Action.CHARGE, "intent", method="post"),
    # Dashboard: actions (POST only)
    "dashboard:intent_cancel": Access(Action.CANCEL, "intent", method="post"),
    "dashboard:intent_reverse": Access(Action.REVERSE, "intent", method="post"),
    "dashboard:intent_refund": Access(Action.REFUND, "intent", method="post"),
    "dashboard:intent_resolve": Access(Action.RESOLVE, "intent", method="post"),
    "dashboard:intent_acknowledge": Access(Action.RESOLVE, "intent", method="post"),
    "dashboard:approval_approve": Access(Action.APPROVE, "intent", method="post"),
    "dashboard:approval_reject": Access(Action.APPROVE, "intent", method="post"),
    "dashboard:intent_not_received": Access(Action.RESOLVE, "intent", method="post"),
    "dashboard:intent_release_reference": Access(Action.RESOLVE, "intent", method="post"),
    "dashboard:batch_close_terminal": Access(Action.CLOSE_BATCH, "terminal", method="post"),
    "dashboard:batch_close_store": Access(Action.CLOSE_BATCH, "store", method="post"),
    "dashboard:batch_close_all": Access(Action.CLOSE_BATCH, method="post"),
    # Dashboard: reconciliation (whoever sees the reports; the import is merchant-wide)
    "dashboard:difference_list": Access(Action.VIEW_REPORTS),
    "dashboard:difference_detail": Access(Action.VIEW_REPORTS, "difference"),
    "dashboard:liquidation_index": Access(Action.VIEW_REPORTS, where="merchant"),
    # Dashboard: settings
    "dashboard:settings": Access(Action.MANAGE_SETTINGS),
    "dashboard:fee_settings": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:settings_audit": Access(Action.MANAGE_SETTINGS),
    "dashboard:fleet_import": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:onboarding": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:homologation": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:homologation_csv": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:homologation_xlsx": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:homologation_record": Access(
        Action.MANAGE_SETTINGS, where="merchant", method="post"
    ),
    "dashboard:homologation_forget": Access(
        Action.MANAGE_SETTINGS, where="merchant", method="post"
    ),
    "dashboard:store_create": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:merchant_create": Access(Action.MANAGE_SETTINGS, where="integrator"),
    "dashboard:pilot_pass": Access(Action.MANAGE_SETTINGS, where="merchant", method="post"),
    "dashboard:credential_homologated": Access(
        Action.MANAGE_SETTINGS, "credential", "merchant", method="post"
    ),
    "dashboard:store_edit": Access(Action.MANAGE_SETTINGS, "store"),
    "dashboard:store_money_controls": Access(Action.MANAGE_SETTINGS, "store"),
    "dashboard:store_credential": Access(Action.MANAGE_SETTINGS, "store"),
    "dashboard:terminal_create": Access(Action.MANAGE_SETTINGS),
    "dashboard:terminal_edit": Access(Action.MANAGE_SETTINGS, "terminal"),
    "dashboard:credential_create": Access(Action.MANAGE_SETTINGS, where="merchant"),
    "dashboard:credential_edit": Access(Action.MANAGE_SETTINGS, "credential", "merchant"),
    "dashboard:credential_retire": Access(Action.MANAGE_SETTINGS, "credential", "merchant"),
    "dashboard:credential_test": Access(
        Action.MANAGE_SETTINGS, "credential", "merchant", method="post"
    ),
    "dashboard:pos_key_create": Access(Action.MANAGE_SETTINGS),
    "dashboard:pos_key_permissions": Access(Action.MANAGE_SETTINGS, "pos_key"),
    "dashboard:pos_key_revoke": Access(Action.MANAGE_SETTINGS, "pos_key", method="post"),
    "dashboard:webhook_toggle": Access(Action.MANAGE_SETTINGS, "webhook", method="post"),
    "dashboard:member_create": Access(Action.MANAGE_SETTINGS),
    "dashboard:member_edit": Access(Action.MANAGE_SETTINGS, "membership"),
    "dashboard:member_delete": Access(Action.MANAGE_SETTINGS, "membership", method="post"),
    # POS API
    "pos-api:ping": Access(Action.VIEW, where="pos"),
    "pos-api:terminal-list": Access(Action.VIEW, where="pos"),
    "pos-api:payment-create": Access(Action.CHARGE, where="pos", method="post"),
    "pos-api:payment-reversal": Access(Action.REVERSE, "intent", "pos", method="post"),
    "pos-api:refund-create": Access(Action.REFUND, where="pos", method="post"),
    "pos-api:settlement-create": Access(Action.CLOSE_BATCH, where="pos", method="post"),
    "pos-api:intent-list": Access(Action.VIEW, where="pos"),
    "pos-api:intent-detail": Access(Action.VIEW, "intent", "pos"),
    "pos-api:intent-cancel": Access(Action.CANCEL, "intent", "pos", method="post"),
    "pos-api:webhook": Access(Action.VIEW, where="pos"),
    "pos-api:schema": Access(PUBLIC),
    "pos-api:docs": Access(PUBLIC),
    # The catch-all: anything else under /api/ is a problem+json 404, for everybody.
    "pos-api:^.*$": Access(PUBLIC),
}

SCANNED_NAMESPACES = ("dashboard", "pos-api")


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or "namespace:pattern" for an unnamed route
    namespace: str
    name: str | None
    kwargs: frozenset[str]

    def __str__(self) -> str:
        return self.key


def _walk(resolver: URLResolver, namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from _walk(entry, inner)
        elif isinstance(entry, URLPattern):
            kwargs = frozenset(entry.pattern.regex.groupindex)
            key = f"{namespace}:{entry.name or entry.pattern}"
            yield Route(key, namespace, entry.name, kwargs)


ROUTES = [r for r in _walk(get_resolver()) if r.namespace in SCANNED_NAMESPACES]
DASHBOARD = [r for r in ROUTES if r.namespace == "dashboard" and r.key in ACCESS]
API = [r for r in ROUTES if r.namespace == "pos-api" and r.key in ACCESS]
TARGETED = [r for r in DASHBOARD if ACCESS[r.key].target]
ROLES = ["owner", "manager_a", "cashier_a", "finance"]


def test_every_route_is_in_the_table():
    """Fails when a route is added without an entry in ACCESS (or an entry outlives its route)."""
    found = {r.key for r in ROUTES}
    assert found - set(ACCESS) == set(), "routes without an access rule: add them to ACCESS"
    assert set(ACCESS) - found == set(), "ACCESS names routes that no longer exist"
    assert len(DASHBOARD) > 30 and len(API) > 10


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_the_table_matches_the_url_arguments(route):
    """A route that names an object says which kind; one that names none has no arguments."""
    expected = {"public_id"} if ACCESS[route.key].target else set()
    assert set(route.kwargs) == expected


# --- The world: store A of the personas' merchant, store B, and another merchant -----------


def _objects(store: Store, terminal, credential: Credential, *, person_name: str) -> dict:
    """One object of each kind, all in `store`."""
    from transactions.models import Batch
    from transactions.states import Kind, State
    from transactions.webhooks.models import WebhookEndpoint

    now = timezone.now()
    intent = factories.make_intent(
        store,
        credential=credential,
        terminal=terminal,
        state=State.APPROVED,
        amount=Decimal("100.00"),
        provider_id=f"prov-{store.code}",
        finished_at=now,
    )
    settlement = factories.make_intent(
        store,
        credential=credential,
        terminal=terminal,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        offered_terminals=[],
        finished_at=now,
    )
    batch = Batch.objects.create(
        terminal=terminal, batch_number=1, settlement=settlement, closed_at=now
    )
    from transactions.models import Difference

    difference = Difference.objects.create(
        key=f"test:{store.code}",
        kind=Difference.Kind.MISSING_IN_LIQUIDATION,
        store=store,
        intent=intent,
        detail="Cobro que la liquidación no trae.",
    )
    pos_key, raw_key = factories.make_pos_client(store, name=f"POS {store.code}")
    webhook = WebhookEndpoint.objects.create(pos_client=pos_key, url="https://pos.example.com/h")
    person = factories.make_user(person_name)
    membership = factories.make_membership(person, Role.CASHIER, store=store)
    return {
        "store": store,
        "terminal": terminal,
        "intent": intent,
        "batch": batch,
        "difference": difference,
        "credential": credential,
        "pos_key": pos_key,
        "raw_key": raw_key,
        "webhook": webhook,
        "membership": membership,
    }


@pytest.fixture
def world(merchant, store_a, store_b, terminal_a, terminal_b, credential):
    """Objects of store A (the personas'), of store B (same merchant) and of another merchant;
    every persona exists, so every role is in the database whoever is asking."""
    cache.clear()  # the API throttle counts per key in the cache
    other_store = factories.make_store(factories.make_merchant(), name="Ajena", code="ajena")
    other_credential = factories.make_credential(merchants=[other_store.merchant])
    return SimpleNamespace(
        a=_objects(store_a, terminal_a, credential, person_name="persona_a"),
        b=_objects(store_b, terminal_b, credential, person_name="persona_b"),
        other=_objects(
            other_store,
            factories.make_terminal(other_store),
            other_credential,
            person_name="persona_ajena",
        ),
    )


@pytest.fixture
def personas(owner, manager_a, cashier_a, finance, outsider):
    return {
        "owner": owner,
        "manager_a": manager_a,
        "cashier_a": cashier_a,
        "finance": finance,
        "outsider": outsider,
    }


@pytest.fixture
def service_calls(monkeypatch):
    """The services the views call, replaced by recorders: no provider is ever reached, and a
    refusal can be checked to have called nothing."""
    from transactions import gateway, services
    from transactions.errors import Code, IntentRuleError

    calls: list[str] = []

    def recorder(name, result):
        def _record(**kwargs):
            calls.append(name)
            if result == "refuse":
                raise IntentRuleError(Code.TERMINAL_BUSY, "Refusado por la prueba.")
            return kwargs.get(result) if result else None

        return _record

    for name, result in [
        ("payment_create", "refuse"),
        ("settlement_create", "refuse"),
        ("refund_create", "original"),
        ("reversal_create", "payment"),
        ("intent_cancel", "intent"),
        ("intent_resolve", "intent"),
        ("intent_acknowledge", "intent"),
        ("approval_approve", "intent"),
        ("approval_reject", "intent"),
        ("intent_close_not_received", "intent"),
        ("intent_release_reference", "intent"),
        ("intent_refresh", "intent"),
    ]:
        monkeypatch.setattr(services, name, recorder(name, result))
    monkeypatch.setattr(
        services, "store_batch_close", lambda **kw: calls.append("store_batch_close") or []
    )
    monkeypatch.setattr(
        services, "merchant_batch_close", lambda **kw: calls.append("merchant_batch_close") or []
    )

    class FakeGateway:
        def liveness(self):
            calls.append("liveness")
            return True

    monkeypatch.setattr(gateway, "gateway_for", lambda credential: FakeGateway())
    return calls


def _fingerprint() -> dict:
    """Every row of the portal's own models (not the API's record of requests, nor the touch of
    a key's last use)."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label not in ("stores", "transactions"):
            continue
        if model._meta.model_name == "idempotencyrecord":
            continue
        values = list(model._default_manager.order_by("pk").values())
        if model is PosClient:
            for row in values:
                row.pop("last_used_at")
        rows[model._meta.label] = values
    return rows


def _store_of(obj) -> Store | None:
    if isinstance(obj, Store):
        return obj
    for path in ("store", "terminal", "pos_client"):
        if hasattr(obj, path):
            return _store_of(getattr(obj, path))
    return None


def _allowed(user, access: Access, obj) -> bool:
    """What `stores.permissions` says this person may do with this route and object."""
    if access.where == "signed_in":
        return True
    if access.where == "integrator":
        return Integrator.objects.filter(members=user).exists() or user.is_superuser
    if isinstance(obj, Credential):
        return permissions.credential_change_allowed(user=user, credential=obj)
    if obj is None:
        if access.where == "merchant":
            return merchant_list_for_user(user=user, action=access.action).exists()
        return store_list_for_user(user=user, action=access.action).exists()
    store = _store_of(obj)
    if access.where == "merchant":
        return permissions.user_can_for_merchant(
            user=user, merchant=store.merchant, action=access.action
        )
    return permissions.user_can(user=user, store=store, action=access.action)


def _sees(user, obj) -> bool:
    """Whether the object is in the person's scope at all (outside it is 404)."""
    if isinstance(obj, Credential):
        return merchant_list_for_user(user=user).filter(credentials=obj).exists()
    return store_list_for_user(user=user).filter(pk=_store_of(obj).pk).exists()


def _url(route: Route, obj) -> str:
    kwargs = {"public_id": obj.public_id} if obj is not None else {}
    return reverse(f"{route.namespace}:{route.name}", kwargs=kwargs)


def _request(client: Client, access: Access, url: str, **headers):
    if access.query:
        url = f"{url}?{access.query}"
    if access.method == "post":
        return client.post(url, data="{}", content_type="application/json", **headers)
    return client.get(url, **headers)


def _refused_without_change(response, expected: int, before: dict, calls: list[str]) -> None:
    assert response.status_code == expected, response.content[:500]
    assert calls == [], "a refused request reached a service"
    assert _fingerprint() == before, "a refused request changed something"


def _assert_served(response, access: Access) -> None:
    if access.method == "get":
        assert response.status_code == 200, response.content[:500]
    else:
        # The action ran or the rules (stubbed services, form validation) refused it: either
        # way the request got past login, scope and role.
        assert response.status_code not in (401, 403, 404, 405), response.content[:500]
        assert response.status_code < 500


# --- Dashboard ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", DASHBOARD, ids=str)
def test_anonymous_is_sent_to_login(route, world, service_calls):
    access = ACCESS[route.key]
    before = _fingerprint()
    response = _request(Client(), access, _url(route, world.a.get(access.target)))
    _refused_without_change(response, 302, before, service_calls)
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("persona", [*ROLES, "outsider"])
@pytest.mark.parametrize("route", DASHBOARD, ids=str)
def test_each_persona_gets_what_its_role_allows(
    route, persona, world, personas, client_for, service_calls
):
    """Objects of store A: 404 outside the person's scope, 403 in scope without the role's
    permission (changing nothing), served otherwise."""
    access = ACCESS[route.key]
    user = personas[persona]
    obj = world.a.get(access.target)
    before = _fingerprint()
    response = _request(client_for(user), access, _url(route, obj))
    if obj is not None and not _sees(user, obj):
        _refused_without_change(response, 404, before, service_calls)
    elif not _allowed(user, access, obj):
        _refused_without_change(response, 403, before, service_calls)
    else:
        _assert_served(response, access)


@pytest.mark.parametrize("route", TARGETED, ids=str)
def test_objects_of_another_merchant_are_404_for_everyone(
    route, world, personas, client_for, service_calls
):
    access = ACCESS[route.key]
    url = _url(route, world.other[access.target])
    before = _fingerprint()
    for persona, user in personas.items():
        response = _request(client_for(user), access, url)
        assert response.status_code == 404, (persona, response.status_code)
    _refused_without_change(response, 404, before, service_calls)


@pytest.mark.parametrize(
    "route", [r for r in TARGETED if ACCESS[r.key].target != "credential"], ids=str
)
def test_objects_of_another_store_follow_the_store_scope(
    route, world, personas, client_for, service_calls
):
    """Store B, same merchant: 404 for the people of store A only; the merchant-wide roles get
    what their role allows there. Only refusals are requested (nothing changes)."""
    access = ACCESS[route.key]
    obj = world.b[access.target]
    for persona in ROLES:
        user = personas[persona]
        if _sees(user, obj) and _allowed(user, access, obj):
            continue
        before = _fingerprint()
        response = _request(client_for(user), access, _url(route, obj))
        expected = 403 if _sees(user, obj) else 404
        assert response.status_code == expected, (persona, response.status_code)
        assert _fingerprint() == before and service_calls == []
    assert not _sees(personas["manager_a"], obj) and not _sees(personas["cashier_a"], obj)


# --- POS API --------------------------------------------------------------------------------


def _api_url(route: Route, obj) -> str:
    if route.name is None:
        return "/api/v1/no-existe"
    return _url(route, obj)


def _api_request(access: Access, url: str, raw_key: str | None):
    headers = {"HTTP_IDEMPOTENCY_KEY": "7f1e1d7e-0b59-4f43-9c1e-0d6f4d4c2c11"}
    if raw_key:
        headers["HTTP_AUTHORIZATION"] = f"Api-Key {raw_key}"
    return _request(Client(), access, url, **headers)


@pytest.mark.parametrize("route", API, ids=str)
def test_api_anonymous(route, world, service_calls):
    access = ACCESS[route.key]
    before = _fingerprint()
    response = _api_request(access, _api_url(route, world.a.get(access.target)), None)
    if access.action == PUBLIC:
        assert response.status_code not in (401, 403)
        assert response.status_code < 500
    else:
        assert response.status_code in (401, 403)
        assert service_calls == [] and _fingerprint() == before


@pytest.mark.parametrize("route", API, ids=str)
def test_api_key_of_the_store_is_served(route, world, service_calls):
    access = ACCESS[route.key]
    response = _api_request(access, _api_url(route, world.a.get(access.target)), world.a["raw_key"])
    if access.action == PUBLIC:
        assert response.status_code < 500
    elif route.key == "pos-api:webhook":
        assert response.status_code == 200  # store A's key has a webhook registered
    else:
        _assert_served(response, access)


@pytest.mark.parametrize("route", [r for r in API if ACCESS[r.key].target], ids=str)
def test_api_key_of_another_store_gets_404(route, world, service_calls):
    access = ACCESS[route.key]
    before = _fingerprint()
    for key in (world.b["raw_key"], world.other["raw_key"]):
        response = _api_request(access, _api_url(route, world.a[access.target]), key)
        assert response.status_code == 404, response.content[:300]
    assert service_calls == [] and _fingerprint() == before


def test_a_revoked_key_gets_nothing(world, service_calls):
    from stores.services import pos_client_revoke

    pos_client_revoke(client=world.a["pos_key"])
    for route in API:
        access = ACCESS[route.key]
        if access.action == PUBLIC:
            continue
        response = _api_request(
            access, _api_url(route, world.a.get(access.target)), world.a["raw_key"]
        )
        assert response.status_code == 401, route.key
    assert service_calls == []


def test_the_memberships_in_the_world_are_as_described(world, personas):
    """Guards the fixture the expectations rely on: the targets are store-level roles."""
    assert world.a["membership"].store == world.a["store"]
    assert Membership.objects.filter(user=personas["owner"], store__isnull=True).exists()
