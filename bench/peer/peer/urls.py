from django.urls import include, path

from benchpeer import views

urlpatterns = [
    path("", views.ServiceInfoView.as_view()),
    path("api-key/me/", views.ApiKeyMeView.as_view()),
    path("auth/", include("djoser.urls")),
    path("auth/", include("djoser.urls.jwt")),
]
