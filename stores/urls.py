from django.urls import path

from stores import views

app_name = "stores"
urlpatterns = [
    path("sucursales/", views.store_list, name="list"),
    path("sucursales/<uuid:public_id>/", views.store_detail, name="detail"),
]
