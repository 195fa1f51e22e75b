"""Reads scoped to what a user or a POS key may see. Outside the scope is 404, never 403.

Every lookup of the portal goes through the user's scope (NetBox-style): `store_list_for_user`,
`merchant_list_for_user` and, for any other model, `restrict(queryset, user=..., action=...)`.
Without `action` the scope is everything the person belongs to (what may be seen); with an
action it narrows to where one of the person's roles allows it (see `stores.permissions`).
"""

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from ecrportal.compiled_query import Arg, CompiledQuery, concrete_columns, instance_from_row
from stores.models import Credential, Membership, Merchant, PosClient, Store, Terminal
from stores.permissions import roles_allowing


def _role_filter(lookup: str, action: str | None) -> dict:
    return {} if action is None else {f"{lookup}__role__in": roles_allowing(action)}


def store_list_for_user(*, user, action: str | None = None) -> QuerySet[Store]:
    """The user's stores: through a role on the store or on its whole merchant. With `action`,
    only those where such a role allows it (one query either way)."""
    if not user.is_authenticated:
        return Store.objects.none()
    if user.is_superuser:
        return Store.objects.select_related("merchant").all()
    # One filter() call: the user and the role are conditions on the same membership row.
    by_store = Q(memberships__user=user, **_role_filter("memberships", action))
    by_merchant = Q(
        merchant__memberships__user=user, **_role_filter("merchant__memberships", action)
    )
    return Store.objects.filter(by_store | by_merchant).select_related("merchant").distinct()


def store_get_for_user(*, user, public_id) -> Store:
    try:
        return store_list_for_user(user=user).get(public_id=public_id)
    except (Store.DoesNotExist, ValueError, ValidationError) as exc:
        # A malformed id (from an API payload or a query string) is "not found", not a 500.
        raise Http404("Sucursal no encontrada") from exc


def merchant_list_for_user(*, user, action: str | None = None) -> QuerySet[Merchant]:
    """Without `action`: every merchant the user belongs to at all, merchant-wide or through one
    of its stores (the scope: any other merchant is 404). With `action`: the merchants on which
    the user may do it as a whole, which only a merchant-wide role grants (e.g. with
    `manage_settings`, the merchants the user manages)."""
    if not user.is_authenticated:
        return Merchant.objects.none()
    if user.is_superuser:
        return Merchant.objects.all()
    if action is None:
        scope = Q(memberships__user=user) | Q(stores__in=store_list_for_user(user=user))
    else:
        scope = Q(memberships__user=user, memberships__role__in=roles_allowing(action))
    return Merchant.objects.filter(scope).distinct()


def terminal_list_for_user(*, user, action: str | None = None) -> QuerySet[Terminal]:
    stores = store_list_for_user(user=user, action=action)
    return Terminal.objects.filter(store__in=stores).select_related(
        "store", "store__merchant", "store__credential"
    )


def terminal_get_for_user(*, user, public_id) -> Terminal:
    try:
        return terminal_list_for_user(user=user).get(public_id=public_id)
    except (Terminal.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("Terminal no encontrada") from exc


def pos_client_get_for_user(*, user, public_id) -> PosClient:
    """A POS key of the stores the user sees, with its store; 404 outside them."""
    try:
        return (
            PosClient.objects.filter(store__in=store_list_for_user(user=user))
            .select_related("store")
            .get(public_id=public_id)
        )
    except (PosClient.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("Clave no encontrada") from exc


# How rows of other models reach their store: the first of these foreign keys a model has.
_STORE_PATHS = (
    ("store", Store, "store"),
    ("terminal", Terminal, "terminal__store"),
    ("pos_client", PosClient, "pos_client__store"),
)


# A row that records what one intention did (a batch and its closing `settlement`) belongs to
# the store that intention was made in, not to its terminal's store of today: a terminal moved
# to another store leaves its history behind. `stores` cannot name the intent model, so the
# relation is recognised by the store foreign key of the model it points to.
_RECORD_OF = "settlement"


def _store_path(model: type[Model]) -> str | None:
    return _direct_store_path(model) or _record_store_path(model) or _related_store_path(model)


def _direct_store_path(model: type[Model]) -> str | None:
    field_name, related_model, path = _STORE_PATHS[0]
    try:
        field = model._meta.get_field(field_name)
    except FieldDoesNotExist:
        return None
    return path if field.is_relation and field.related_model is related_model else None


def _record_store_path(model: type[Model]) -> str | None:
    try:
        record = model._meta.get_field(_RECORD_OF)
    except FieldDoesNotExist:
        record = None
    if record is not None and record.is_relation and record.related_model is not None:
        try:
            store = record.related_model._meta.get_field("store")
        except FieldDoesNotExist:
            store = None
        if store is not None and store.is_relation and store.related_model is Store:
            return f"{_RECORD_OF}__store"
    return None


def _related_store_path(model: type[Model]) -> str | None:
    for field_name, related_model, path in _STORE_PATHS[1:]:
        try:
            field = model._meta.get_field(field_name)
        except FieldDoesNotExist:
            continue
        if field.is_relation and field.related_model is related_model:
            return path
    return None


def restrict(
    queryset_or_model: QuerySet | type[Model],
    *,
    user=None,
    pos_client: PosClient | None = None,
    action: str | None = None,
) -> QuerySet:
    """The rows of `queryset_or_model` that the user (or the POS key) may see, or, with `action`,
    act on. Knows stores, merchants, memberships, credentials and every model with a foreign key
    to a store, a terminal or a POS key (terminals, POS keys, intents, batches, webhooks, ...).
    Any other model raises TypeError, so a new kind of object cannot be looked up unscoped by
    mistake.

    A POS key sees its own store only (and nothing once revoked); which actions it may take is
    the API's business, so `action` does not narrow it.
    """
    queryset = (
        queryset_or_model.all()
        if isinstance(queryset_or_model, QuerySet)
        else queryset_or_model._default_manager.all()
    )
    model = queryset.model
    if pos_client is not None:
        if user is not None:
            raise TypeError("restrict() takes a user or a POS key, not both")
        stores = Store.objects.filter(
            pk=pos_client.store_id, pos_clients=pos_client, pos_clients__revoked_at__isnull=True
        )
        merchants = Merchant.objects.filter(stores__in=stores)
    elif user is None:
        raise TypeError("restrict() needs a user or a POS key")
    elif not user.is_authenticated:
        return queryset.none()
    elif user.is_superuser:
        return queryset
    else:
        stores = store_list_for_user(user=user, action=action)
        merchants = merchant_list_for_user(user=user, action=action)

    if model is Store:
        return queryset.filter(pk__in=stores.values("pk"))
    if model is Merchant:
        return queryset.filter(pk__in=merchants.values("pk"))
    if model is Membership:
        return queryset.filter(Q(store__in=stores.values("pk")) | Q(merchant__in=merchants))
    if model is Credential:
        serving = Credential.objects.filter(merchants__in=merchants.values("pk"))
        return queryset.filter(pk__in=serving.values("pk"))
    path = _store_path(model)
    if path is not None:
        return queryset.filter(**{f"{path}__in": stores.values("pk")})
    raise TypeError(f"restrict() does not know how to scope {model.__name__}")


def credential_for_store(*, store: Store) -> Credential | None:
    """The credential the store was explicitly given (`Store.credential`), or None when it has
    none or it was retired since: a retired credential is kept for the history of its intents but
    never used again, and no other credential is picked in its place (adding or retiring a
    credential never silently moves a store's charges)."""
    # Read from the row, not from `store.credential_id`: a Store object loaded earlier in a
    # long-lived request or task must not charge with the credential it was switched away from.
    # Every create reads it: compiled once (`CompiledQuery`).
    found = _STORE_CREDENTIAL.instances(Credential, store_id=store.pk)
    return found[0] if found else None


# A store has at most one credential (`Store.credential`): no order or limit needed.
_STORE_CREDENTIAL = CompiledQuery(
    "store_credential",
    lambda store_id: (
        Credential.objects.active()
        .filter(stores=store_id)
        .order_by()
        .values_list(*concrete_columns(Credential))
    ),
    server_prepared=True,
    store_id=Arg(Store._meta.pk),
)


def pos_client_active_by_prefix(*, prefix: str) -> PosClient | None:
    """The unrevoked POS key with this prefix, with its store and the store's merchant loaded
    (what `select_related("store", "store__merchant")` loads), or None.

    Every POS API request reads it, the cheapest ones too (a till polling its intent): the
    ORM's compiling of the three-table queryset cost the portal about as much as the rest of
    such a request, so it is compiled once per connection and prepared on PostgreSQL
    (`_ACTIVE_KEY`)."""
    db = PosClient.objects.db
    rows = _ACTIVE_KEY.rows(db, prefix=prefix)
    if not rows:
        return None
    row = rows[0]  # the prefix is unique
    key_end = len(_KEY_COLUMNS)
    store_end = key_end + len(_STORE_COLUMNS)
    client = instance_from_row(PosClient, db, _KEY_COLUMNS, row[:key_end])
    store = instance_from_row(Store, db, _STORE_COLUMNS, row[key_end:store_end])
    store.merchant = instance_from_row(Merchant, db, _MERCHANT_COLUMNS, row[store_end:])
    client.store = store
    return client


_KEY_COLUMNS = concrete_columns(PosClient)
_STORE_COLUMNS = concrete_columns(Store)
_MERCHANT_COLUMNS = concrete_columns(Merchant)
_ACTIVE_KEY = CompiledQuery(
    "pos_key",
    lambda prefix: (
        PosClient.objects.filter(prefix=prefix, revoked_at__isnull=True)
        .order_by()
        .values_list(
            *_KEY_COLUMNS,
            *(f"store__{name}" for name in _STORE_COLUMNS),
            *(f"store__merchant__{name}" for name in _MERCHANT_COLUMNS),
        )
    ),
    server_prepared=True,
    prefix=Arg(PosClient._meta.get_field("prefix")),
)


def credential_choices_for_store(*, store: Store) -> QuerySet[Credential]:
    """The credentials a store may be switched to: active ones serving its merchant."""
    return Credential.objects.active().filter(merchants=store.merchant_id).order_by("name")


def audit_entries_for_user(*, user, limit: int = 200):
    """The newest audit entries (issue 14 item 7) of the settings the user manages: his stores,
    their terminals, POS keys and members, and the credentials and pilot of the merchants he
    manages. One query (content types are cached)."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from stores.roles import Action

    stores = store_list_for_user(user=user, action=Action.MANAGE_SETTINGS)
    merchants = merchant_list_for_user(user=user, action=Action.MANAGE_SETTINGS)
    scoped = {
        Store: stores.values("pk"),
        Terminal: Terminal.objects.filter(store__in=stores.values("pk")).values("pk"),
        PosClient: PosClient.objects.filter(store__in=stores.values("pk")).values("pk"),
        Membership: restrict(Membership, user=user, action=Action.MANAGE_SETTINGS).values("pk"),
        Credential: restrict(Credential, user=user, action=Action.MANAGE_SETTINGS).values("pk"),
        Merchant: merchants.values("pk"),
    }
    condition = Q()
    for model, pks in scoped.items():
        content_type = ContentType.objects.get_for_model(model)
        condition |= Q(content_type=content_type, object_id__in=pks)
    return (
        LogEntry.objects.filter(condition)
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")[:limit]
    )
