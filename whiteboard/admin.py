"""Admin: shapes by room, boards with a clear action.  Changes go through the services, so
open sockets get the same `board.erased` / `board.cleared` events as from the UI; shapes
themselves are read-only here (drawing belongs on the board)."""

from django.contrib import admin, messages

from realtime.errors import ProtocolError
from whiteboard import services
from whiteboard.models import Board, Shape


def _clear(modeladmin, request, rooms):
    cleared = 0
    for room in rooms:
        try:
            services.board_clear(room=room, user=request.user)
            cleared += 1
        except ProtocolError as exc:
            modeladmin.message_user(request, f"{room}: {exc.message}", messages.ERROR)
    if cleared:
        modeladmin.message_user(request, f"Cleared {cleared} board(s).", messages.SUCCESS)


@admin.register(Shape)
class ShapeAdmin(admin.ModelAdmin):
    list_display = ["shape_id", "board", "kind", "z", "version", "deleted", "updated_by", "updated_at"]
    list_filter = ["board", "kind", "deleted"]
    search_fields = ["shape_id", "board__slug"]
    list_select_related = ["board", "updated_by"]
    readonly_fields = ["board", "shape_id", "kind", "data", "z", "version", "created_by", "updated_by",
                       "created_at", "updated_at", "deleted"]
    actions = ["erase_shapes", "clear_boards"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # erase instead (below): a delete would reach no socket

    @admin.action(description="Erase the selected shapes (everyone sees it)", permissions=["change"])
    def erase_shapes(self, request, queryset):
        erased = 0
        for shape in queryset.filter(deleted=False).select_related("board"):
            try:
                services.shape_erase(room=shape.board, user=request.user, shape_id=str(shape.shape_id))
                erased += 1
            except ProtocolError as exc:
                self.message_user(request, f"{shape.shape_id}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Erased {erased} shape(s).", messages.SUCCESS)

    @admin.action(description="Clear the whole boards of the selected shapes' rooms", permissions=["change"])
    def clear_boards(self, request, queryset):
        rooms = Board.objects.filter(pk__in=queryset.values("board_id"))
        _clear(self, request, rooms)


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    """Rooms as boards: how many shapes each has, and the clear action."""

    list_display = ["slug", "name", "is_private", "archived", "live_shapes"]
    search_fields = ["slug", "name"]
    actions = ["clear_boards"]
    fields = ["slug", "name", "is_private", "archived"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # rooms are deleted from the chat admin, not here

    @admin.display(description="live shapes")
    def live_shapes(self, room):
        return room.shapes.filter(deleted=False).count()

    @admin.action(description="Clear the selected boards (everyone sees it)", permissions=["change"])
    def clear_boards(self, request, queryset):
        _clear(self, request, queryset)
