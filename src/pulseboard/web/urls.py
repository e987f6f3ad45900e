"""Web app URLs (namespace ``web``)."""

from django.urls import path

from pulseboard.web.views import auth, home

app_name = "web"
urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
]
