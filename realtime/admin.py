from django.contrib import admin

from realtime.models import Connection, Event


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "opened_at", "closed_at", "close_code", "client_address",
                    "server_instance")
    list_filter = (("closed_at", admin.EmptyFieldListFilter), "server_instance")
    search_fields = ("id", "user__username", "client_address", "user_agent")
    date_hierarchy = "opened_at"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("topic", "seq", "event", "created_at")
    list_filter = ("event",)
    search_fields = ("topic",)
    date_hierarchy = "created_at"


from realtime.webhooks.admin import register as register_webhooks  # noqa: E402

register_webhooks(admin.site)
