"""Top-level URL map. The simulator is mounted only when ECR_SIMULATOR is on."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from transactions.dashboard.auth import RateLimitedLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Rate limited: failed logins per username and per address are counted in the cache.
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("transactions.api.urls")),
    path("", include("stores.urls")),
    path("", include("transactions.dashboard.urls")),
]

if settings.ECR_SIMULATOR:
    urlpatterns.append(path("simulator/", include("simulator.urls")))
