from apikeys.api import views
from apikeys.api.introspect import IntrospectView
from core.routing import route

urlpatterns = [
    route("auth/introspect", IntrospectView, "auth-introspect"),
    route("api-keys", views.APIKeyListView, "api-keys"),
    route(r"api-keys/(?P<key_id>[0-9]{1,18})", views.APIKeyDetailView, "api-key-detail"),
]
