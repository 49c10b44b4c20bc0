from django.contrib.auth import login
from django.shortcuts import redirect
from django.views.generic import CreateView
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken

from accounts.forms import SignUpForm
from realtime import WriteRateThrottle


class SignUpView(CreateView):
    """Creates an account and logs the new user in."""

    form_class = SignUpForm
    template_name = "registration/signup.html"

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/")


class TokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}: the API token for scripts and apps.

    Throttled (DRF's ObtainAuthToken is not): per address and per user name for password
    guessing by project.middleware.LoginThrottleMiddleware before this runs (as the login
    form and the admin's), and with the site's write rate here."""

    throttle_classes = [WriteRateThrottle]

    @extend_schema(
        request=inline_serializer(
            "Token", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
        auth=[],  # anonymous: this is how a client gets its first credential
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
