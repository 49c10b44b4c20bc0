"""The REST API's conventions in one place, and how GET /api/schema/ states them.

- Authentication: `Authorization: Token <key>` (DRF's keyword) or `Authorization: Bearer
  <key>` (what OpenAPI client generators send for an http bearer scheme: a generated client
  works without being told about our keyword), or the session cookie plus CSRF header.
- Lists: cursor pages (`cursor`, `page_size`), the same on every list; a cursor this list
  did not give out is 400 `invalid` on `cursor`, not 404.
- Errors: one body, `{"error": {"code", "message", "field"?, "fields"?, "data"?,
  "retry_after"?}}` (realtime.errors.drf_exception_handler writes it); every operation
  documents each error status it can answer with that one component.

Used by project/settings.py (REST_FRAMEWORK) and the API views; project.openapi states
it in the schema.  (No drf-spectacular import here: DRF imports this module while loading
its settings, before drf-spectacular can be.)
"""

import datetime

from rest_framework import authentication, exceptions, serializers
from rest_framework.pagination import CursorPagination

from realtime.errors import HTTP_ERROR_CODES, Invalid

# Largest page any list serves on request (`page_size`): a page of 500 rooms, messages or
# items is well under 1 MB of JSON and one indexed query; more is a bulk export, not a page.
MAX_PAGE_SIZE = 500

# --- authentication ---------------------------------------------------------------------
class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, accepting `Bearer` as well as `Token` before the key.

    Called by DRF for every API request; answers None (try the next class) for any other
    Authorization header, and 401 for a malformed or unknown token."""

    keywords = (b"token", b"bearer")

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give `Token <key>`.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: the key is not ASCII.") from None
        return self.authenticate_credentials(key)


# --- pagination ---------------------------------------------------------------------------
class CursorPage(CursorPagination):
    """Every list's pagination: `{"next", "previous", "results"}`, `?cursor=` from `next`
    or `previous`, `?page_size=` up to MAX_PAGE_SIZE.  Subclasses set ordering and
    page_size (the default)."""

    page_size_query_param = "page_size"
    page_size_query_description = f"Results per page (default per list, at most {MAX_PAGE_SIZE})."
    max_page_size = MAX_PAGE_SIZE
    cursor_query_description = "The `next` or `previous` link's cursor, as given."

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise Invalid("The cursor is not one this list gave out.", field="cursor") from None


# --- timestamps ---------------------------------------------------------------------------
def iso(value):
    """The API's one timestamp format, REST and socket alike: ISO 8601 in UTC with a
    `+00:00` offset, e.g. `2025-01-31T12:00:00.123456+00:00` (microseconds when not zero),
    as every app's serialize helpers write it; None stays None."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).isoformat()


class DateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField writes `Z` for UTC; this one writes the API's format (iso)."""

    def to_representation(self, value):
        return iso(value) if value else None


# --- the error body -----------------------------------------------------------------------
class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.ChoiceField(HTTP_ERROR_CODES, help_text="Stable; the same codes as the "
                                   "socket protocol's error frames.")
    message = serializers.CharField(help_text="For people; may change.")
    field = serializers.CharField(required=False, help_text="The first offending field, dotted "
                                  "(e.g. `events.3.occurred_at`).")
    fields = serializers.DictField(required=False, help_text="Every offending field: name -> "
                                   "messages (nested for nested input).")
    data = serializers.DictField(required=False, help_text="Facts that go with the error: the "
                                 "object's current state on 409 `conflict`; `errors` (a list of "
                                 "{index, field, message}) and `error_count` for an events batch.")
    retry_after = serializers.IntegerField(required=False, help_text="429 and 503: seconds to "
                                           "wait, equal to the Retry-After header.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR = ErrorSerializer
