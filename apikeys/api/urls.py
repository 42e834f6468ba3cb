from apikeys.api import views
from core.routing import route

urlpatterns = [
    route("api-keys", views.APIKeyListView, "api-keys"),
    route(r"api-keys/(?P<key_id>[0-9]{1,18})", views.APIKeyDetailView, "api-key-detail"),
]
