"""Admin for rooms, memberships and messages.  Every change goes through chat.services,
so an edit or delete made here is published to the room like any other."""

import uuid

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from chat import services
from chat.models import Message, Room, RoomMembership
from realtime.errors import ProtocolError


class MembershipInline(admin.TabularInline):
    model = RoomMembership
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "joined_at", "last_read_message_id"]
    readonly_fields = ["joined_at", "last_read_message_id"]


class AnnouncementForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
                           max_length=services.MAX_BODY, label="Announcement")
    # One key per form page: submitting the page twice posts each announcement once.
    client_id = forms.CharField(widget=forms.HiddenInput)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_private", "archived", "created_by", "created_at"]
    list_filter = ["is_private", "archived"]
    search_fields = ["slug", "name", "description"]
    raw_id_fields = ["created_by"]
    inlines = [MembershipInline]
    actions = ["post_announcement"]

    def get_readonly_fields(self, request, obj=None):
        # The slug names the room's topics (room:<slug>, board:<slug>): fixed once created.
        return ["slug", "created_by", "created_at"] if obj else ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            room = services.room_create(creator=request.user, slug=data["slug"], name=data["name"],
                                        description=data.get("description", ""),
                                        is_private=data.get("is_private", False))
            obj.pk, obj.created_by, obj.created_at = room.pk, room.created_by, room.created_at
            if data.get("archived"):
                services.room_archive(room=room, actor=request.user)
            return
        fields = {key: data[key] for key in ("name", "description", "is_private", "archived")
                  if key in form.changed_data}
        services.room_update(room=Room.objects.get(pk=obj.pk), actor=request.user, **fields)

    def get_deleted_objects(self, objs, request):
        """Django's list of what a delete takes along, less the refusal the shapes' admin
        gives: it forbids deleting single shapes (that would reach no socket), while a
        room's board goes with the room and its subscribers are revoked."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(apps.get_model("whiteboard", "Shape")._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        """The room and its topics' history (chat.services.room_delete)."""
        services.room_delete(room=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        """The changelist's bulk delete: each room through the same service."""
        for room in queryset:
            services.room_delete(room=room, actor=request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is not RoomMembership:
            return super().save_formset(request, form, formset, change)
        room = Room.objects.get(pk=form.instance.pk)
        for membership in formset.save(commit=False):
            services.member_add(room=room, actor=request.user, user=membership.user, role=membership.role)
        for membership in formset.deleted_objects:
            services.member_remove(room=room, actor=request.user, user=membership.user)

    @admin.action(description="Post an announcement to the selected rooms", permissions=["change"])
    def post_announcement(self, request, queryset):
        """An intermediate page asks for the text, then posts it as the acting staff user.
        Only for users who may change rooms (the admin's chat.change_room, as the board's
        clear action needs change), and per room only where chat.services lets this user
        post (message_create's own check: can_write); each post is in the room's history."""
        if "apply" in request.POST:
            form = AnnouncementForm(request.POST)
            if form.is_valid():
                posted, failed = 0, []
                body, client_id = form.cleaned_data["body"], form.cleaned_data["client_id"]
                for room in queryset:
                    try:
                        message = services.message_create(room=room, author=request.user, body=body,
                                                          client_id=client_id)
                        posted += 1
                    except ProtocolError as exc:
                        failed.append(f"{room.slug} ({exc.message})")
                        continue
                    self.log_change(request, room, f"Posted an announcement (message {message.pk}).")
                self.message_user(request, f"Announcement posted to {posted} room(s).", messages.SUCCESS)
                if failed:
                    self.message_user(request, "Not posted to: " + ", ".join(failed), messages.WARNING)
                return None
        else:
            form = AnnouncementForm(initial={"client_id": f"announce-{uuid.uuid4()}"})
        return TemplateResponse(request, "admin/chat/room/announce.html", {
            **self.admin_site.each_context(request),
            "title": "Post an announcement",
            "form": form,
            "rooms": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        })


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_body", "created_at", "edited_at", "deleted"]
    list_filter = ["room", "created_at", "deleted"]
    date_hierarchy = "created_at"
    search_fields = ["body", "author__username", "author__display_name"]
    list_select_related = ["room", "author"]
    fields = ["room", "author", "body", "deleted", "client_id", "created_at", "edited_at"]

    @admin.display(description="body")
    def short_body(self, obj):
        return "(deleted)" if obj.deleted else obj.body[:80]

    def has_add_permission(self, request):
        return False  # messages are posted by people (or the announcement action)

    def get_readonly_fields(self, request, obj=None):
        readonly = ["room", "author", "client_id", "created_at", "edited_at"]
        if obj is not None and obj.deleted:
            readonly += ["body", "deleted"]  # a tombstone stays one
        return readonly

    def save_model(self, request, obj, form, change):
        message = Message.objects.select_related("room", "author").get(pk=obj.pk)
        if "deleted" in form.changed_data and form.cleaned_data["deleted"]:
            services.message_delete(message=message, actor=request.user)
        elif "body" in form.changed_data:
            services.message_edit(message=message, editor=request.user, body=form.cleaned_data["body"])

    def delete_model(self, request, obj):
        """Soft delete (a tombstone stays in history), published like any other."""
        services.message_delete(message=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for message in queryset.select_related("room", "author"):
            services.message_delete(message=message, actor=request.user)
