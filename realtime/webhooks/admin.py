"""The admin of webhooks: endpoints (secret shown once, rotate, re-enable; a disabled one is
flagged in the list and on its page), deliveries with every attempt and a resend action.
Registered by realtime/admin.py; changes go through realtime.webhooks.endpoints."""

from django import forms
from django.contrib import admin, messages
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from realtime.errors import Invalid
from realtime.webhooks import delivery, endpoints
from realtime.webhooks.models import EVENTS, Attempt, Delivery, WebhookEndpoint

# The page that shows a new secret, once (no inline script or style: the CSP forbids them).
SECRET_PAGE = engines["django"].from_string("""{% extends "admin/base_site.html" %}
{% block content %}<div id="content-main">
<p>The signing secret of <strong>{{ endpoint.url }}</strong>. Copy it now: it is not shown again
(rotate it to get a new one).</p>
<p><code id="webhook-secret">{{ secret }}</code></p>
<p><a href="{{ back }}">Back to the endpoint</a></p></div>{% endblock %}""")


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=[(name, f"{name} — {doc}") for name, doc in EVENTS.items()],
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "topic_filter", "enabled"]

    def clean(self):
        data = super().clean()
        checks = (("url", endpoints.clean_url), ("events", endpoints.clean_events),
                  ("topic_filter", endpoints.clean_topic_filter))
        for name, check in checks:
            if name in data:
                try:
                    data[name] = check(data[name])
                except Invalid as exc:
                    self.add_error(name, exc.message)
        return data


def show_secret(request, endpoint, secret):
    return TemplateResponse(request, SECRET_PAGE, {
        "endpoint": endpoint, "secret": secret, "title": "Webhook secret",
        "back": reverse("admin:realtime_webhookendpoint_change", args=[endpoint.pk]),
        **admin.site.each_context(request)})


class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("url", "owner", "event_list", "topic_filter", "state", "failing_since")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    readonly_fields = ("owner", "failing_since", "disabled_at", "disabled_reason", "created_at")
    actions = ["rotate_secret", "enable_again"]

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    @admin.display(description="state")
    def state(self, obj):
        if obj.enabled:
            return "failing" if obj.failing_since else "ok"
        return format_html("<strong>disabled</strong>: {}", obj.disabled_reason or "by staff")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {name: data[name] for name in ("url", "description", "events", "topic_filter", "enabled")}
        if change:
            endpoints.update(WebhookEndpoint.objects.get(pk=obj.pk), **fields)
            obj.refresh_from_db()
        else:
            created, self._secret = endpoints.create(owner=request.user, **fields)
            obj.pk, obj.secret = created.pk, created.secret

    def response_add(self, request, obj, post_url_continue=None):
        return show_secret(request, obj, self._secret)

    def changelist_view(self, request, extra_context=None):
        self._warn_owner(request, WebhookEndpoint.objects.filter(owner=request.user, enabled=False)
                         .exclude(disabled_reason=""))
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            self._warn_owner(request, WebhookEndpoint.objects.filter(pk=object_id, enabled=False)
                             .exclude(disabled_reason=""))
        return super().change_view(request, object_id, form_url, extra_context)

    def _warn_owner(self, request, disabled):
        """Tells the owner (and whoever opens it) why an endpoint was disabled."""
        for endpoint in disabled:
            messages.warning(request, f"Webhook endpoint {endpoint.url} is disabled: "
                             f"{endpoint.disabled_reason}")

    @admin.action(description="Rotate the secret (shown once)")
    def rotate_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Rotate one endpoint at a time.", messages.ERROR)
            return None
        endpoint = queryset.get()
        return show_secret(request, endpoint, endpoints.rotate(endpoint))

    @admin.action(description="Enable again (restarts pending deliveries)")
    def enable_again(self, request, queryset):
        for endpoint in queryset:
            endpoints.update(endpoint, enabled=True)
        self.message_user(request, f"{queryset.count()} endpoint(s) enabled.")


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("started_at", "duration_ms", "status_code", "ok", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event_type", "topic", "endpoint", "status", "attempts", "created_at",
                    "next_attempt_at", "delivered_at")
    list_filter = ("status", "endpoint")
    search_fields = ("topic", "event__id", "endpoint__url")
    readonly_fields = ("endpoint", "event", "event_type", "topic", "status", "attempts", "created_at",
                       "next_attempt_at", "delivered_at", "payload")
    exclude = ("lease_until", "lease_token")
    inlines = [AttemptInline]
    actions = ["resend"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event", "endpoint")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a record; the resend action makes a new delivery

    @admin.display(description="type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description="payload")
    def payload(self, obj):
        return delivery.payload(obj.event).decode()

    @admin.action(description="Resend (same event id, at the end of its queue)")
    def resend(self, request, queryset):
        fresh = delivery.resend(list(queryset))
        self.message_user(request, f"{len(fresh)} delivery(ies) queued again.")


class AttemptAdmin(admin.ModelAdmin):
    list_display = ("id", "delivery", "started_at", "duration_ms", "status_code", "ok", "error")
    list_filter = ("ok",)
    readonly_fields = ("delivery", "started_at", "duration_ms", "status_code", "ok", "error",
                       "response_excerpt")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def register(site):
    """Called by realtime/admin.py."""
    site.register(WebhookEndpoint, WebhookEndpointAdmin)
    site.register(Delivery, DeliveryAdmin)
    site.register(Attempt, AttemptAdmin)
