from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import SignUpView, ThrottledLoginView, TokenView

urlpatterns = [
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", SignUpView.as_view(), name="signup"),
    path("api/auth/token/", TokenView.as_view(), name="api-token"),
]
