from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.generic import CreateView
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken

from accounts.forms import SignUpForm
from realtime.throttles import LoginRateThrottle, WriteRateThrottle


class ThrottledLoginView(LoginView):
    """Django's log-in page with the API's per-address login throttle on POST."""

    def post(self, request, *args, **kwargs):
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, self):
            wait = int(throttle.wait() or 60) + 1
            response = render(request, "registration/login.html",
                              {"form": self.get_form(), "throttled": True, "retry_after": wait},
                              status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)


class SignUpView(CreateView):
    """Creates an account and logs the new user in."""

    form_class = SignUpForm
    template_name = "registration/signup.html"

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/")
        auth=[],  # anonymous: this is how a client gets its first credential


class TokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}: the API token for scripts and apps.

    Throttled (DRF's ObtainAuthToken is not): per address for password guessing, and with
    the site's write rate."""

    throttle_classes = [LoginRateThrottle, WriteRateThrottle]

    @extend_schema(
        request=inline_serializer(
            "Token", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
