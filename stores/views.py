"""Dashboard skeleton: the user's stores and their terminals."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from stores.selectors import store_get_for_user, store_list_for_user


@login_required
def store_list(request):
    stores = store_list_for_user(user=request.user).prefetch_related("terminals")
    return render(request, "stores/store_list.html", {"stores": stores})


@login_required
def store_detail(request, public_id):
    store = store_get_for_user(user=request.user, public_id=public_id)
    terminals = store.terminals.all()
    return render(request, "stores/store_detail.html", {"store": store, "terminals": terminals})
