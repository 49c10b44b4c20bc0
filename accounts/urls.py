from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import SignUpView, TokenView

urlpatterns = [
    # Throttled (per address and per user name) by project.middleware.LoginThrottleMiddleware,
    # as are sign-up and the token endpoint.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", SignUpView.as_view(), name="signup"),
    path("api/auth/token/", TokenView.as_view(), name="api-token"),
]
