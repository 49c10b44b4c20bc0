"""Admin for feeds, items and ingest batches.  Every change goes through feeds.services so
it is validated and published like any other (items are never removed outright: a delete
is a tombstone that followers receive)."""

from django import forms
from django.contrib import admin, messages

from feeds import services
from feeds.models import Feed, FeedItem, IngestBatch
from feeds.validation import validate_event
from realtime.errors import ProtocolError

ITEM_FIELDS = ("kind", "title", "body", "url", "data", "deleted")


@admin.register(Feed)
class FeedAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "is_public", "created_at")
    list_filter = ("is_public",)
    search_fields = ("slug", "title")

    def get_readonly_fields(self, request, obj=None):
        return ("slug", "created_at") if obj else ("created_at",)

    def save_model(self, request, obj, form, change):
        if change:
            # The service compares with the stored row, not with `obj`, which the form has
            # already changed: a feed made private here revokes its anonymous and
            # unprivileged subscribers exactly as the REST PATCH does.
            fields = {name: form.cleaned_data[name] for name in ("title", "description", "is_public")
                      if name in form.changed_data}
            services.feed_update(feed=Feed.objects.get(pk=obj.pk), **fields)
        else:
            feed = services.feed_create(slug=obj.slug, title=obj.title, description=obj.description,
                                        is_public=obj.is_public)
            obj.pk, obj.created_at = feed.pk, feed.created_at

    def get_deleted_objects(self, objs, request):
        """Django's list of what a delete takes along, less the items' refusal (single
        items are tombstoned, not deleted): a feed's items go with the feed."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(FeedItem._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        """The feed and its topic's history (services.feed_delete)."""
        services.feed_delete(feed=obj)

    def delete_queryset(self, request, queryset):
        """The changelist's bulk delete: each feed through the same service."""
        for feed in queryset:
            services.feed_delete(feed=feed)


class FeedItemForm(forms.ModelForm):
    class Meta:
        model = FeedItem
        fields = ("feed", "external_id", "kind", "title", "body", "url", "data", "occurred_at",
                  "version", "deleted")

    def event(self):
        """The change event this form describes (services.item_event for an edit)."""
        data = self.cleaned_data
        changes = {name: data.get(name) for name in ITEM_FIELDS}
        changes["occurred_at"] = data["occurred_at"].isoformat() if data.get("occurred_at") else None
        if self.instance.pk:
            original = FeedItem.objects.select_related("feed").get(pk=self.instance.pk)
            return services.item_event(original, **changes)
        feed = data.get("feed")
        return {"id": data.get("external_id"), "feed": feed.slug if feed else None,
                "version": data.get("version"), **changes}

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            _, problems = validate_event(self.event())
            for field, message in problems:
                field = {"id": "external_id"}.get(field, field)
                self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(FeedItem)
class FeedItemAdmin(admin.ModelAdmin):
    form = FeedItemForm
    list_display = ("external_id", "feed", "kind", "title", "version", "occurred_at", "updated_at",
                    "deleted")
    list_filter = ("feed", "kind", "deleted")
    search_fields = ("external_id", "title")
    date_hierarchy = "occurred_at"
    list_select_related = ("feed",)
    actions = ["tombstone_items"]

    def get_readonly_fields(self, request, obj=None):
        # An edit is one version up (services.item_event); the identity never changes.
        return ("feed", "external_id", "version", "created_at", "updated_at") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False  # "Delete (tombstone)" instead, so followers learn about it

    def save_model(self, request, obj, form, change):
        if change:
            original = FeedItem.objects.select_related("feed").get(pk=obj.pk)
            event = form.event()
            item = services.item_edit(item=original, changes={k: event[k] for k in
                                                               (*ITEM_FIELDS, "occurred_at")})
        else:
            _, item = services.item_upsert(feed=obj.feed, data={
                k: v for k, v in form.event().items() if k != "feed"})
        obj.pk, obj.version = item.pk, item.version
        obj.created_at, obj.updated_at = item.created_at, item.updated_at

    @admin.action(description="Delete (tombstone, published to followers)", permissions=["change"])
    def tombstone_items(self, request, queryset):
        count = 0
        for item in queryset.select_related("feed").filter(deleted=False):
            services.item_delete(item=item)
            count += 1
        self.message_user(request, f"{count} item(s) marked deleted.")


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "status", "received", "created", "updated", "unchanged", "rejected",
                    "attempts", "received_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("source__username",)
    date_hierarchy = "received_at"
    exclude = ("payload",)
    readonly_fields = ("source", "status", "next_index", "received", "created", "updated", "unchanged",
                       "rejected", "errors", "attempts", "received_at", "started_at", "finished_at")
    actions = ["retry_failed_batches"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a batch is a record; only the task and the retry action change it

    def has_retry_permission(self, request):
        return request.user.has_perm("feeds.change_ingestbatch")

    @admin.action(description="Retry failed batches", permissions=["retry"])
    def retry_failed_batches(self, request, queryset):
        retried = 0
        for batch in queryset.filter(status=IngestBatch.FAILED):
            try:
                retried += services.retry_batch(batch=batch)
            except ProtocolError as exc:
                self.message_user(request, f"Batch {batch.pk}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{retried} batch(es) queued again.")
