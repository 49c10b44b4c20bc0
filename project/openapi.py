"""How GET /api/schema/ states the API's conventions (project.schema): the security
schemes (Token/Bearer keyword, the session cookie's CSRF rule) and, on every operation,
each error status it can answer, all with the one error component."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from project.schema import ERROR

# The error statuses an operation may answer besides the ones its view declares
# (409 and the like are declared per view with ERROR).
ALWAYS = ("401", "403", "406", "500", "503")
# What each error status means here (the `code` in the body says exactly which error).
DESCRIPTIONS = {
    "400": "`invalid` (a field: `field`, `fields`) or `bad_request` (not JSON).",
    "401": "`unauthenticated`: no credentials, or a wrong or malformed token.",
    "403": "`forbidden`: not allowed, or a cookie write without the CSRF header.",
    "404": "`not_found`: no such object, or one the caller may not see.",
    "409": "`conflict`: the object changed; `data` holds its current state.",
    "406": "`not_acceptable`: the Accept header names no type this endpoint answers in.",
    "413": "`too_large`: the body is over the limit.",
    "415": "`unsupported_media_type`: the body is not JSON (Content-Type).",
    "429": "`rate_limited`: wait `retry_after` seconds (also the Retry-After header).",
    "500": "`internal`: a bug on our side, logged with its traceback.",
    "503": "`unavailable` (the database or Redis is unreachable) or `overloaded` (too many writes "
           "waiting): nothing was written; retry after `retry_after` seconds.",
}


class TokenScheme(OpenApiAuthenticationExtension):
    """`tokenAuth` as an http bearer scheme: generators (openapi-python-client's
    AuthenticatedClient, OpenAPI Generator, Swagger UI) then send `Bearer <key>`, which
    TokenAuthentication accepts."""

    target_class = "project.schema.TokenAuthentication"
    name = "tokenAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "Token",
                "description": "The key from `POST /api/auth/token/`, sent as "
                               "`Authorization: Bearer <key>` or `Authorization: Token <key>`."}


class SessionScheme(OpenApiAuthenticationExtension):
    """`cookieAuth`, with the CSRF rule that goes with it."""

    target_class = "rest_framework.authentication.SessionAuthentication"
    name = "cookieAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        from django.conf import settings

        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME,
                "description": "The web site's session (log in at /accounts/login/).  Writes "
                f"(POST, PATCH, DELETE) must also send the `{settings.CSRF_COOKIE_NAME}` "
                "cookie's value in the `X-CSRFToken` header and a same-origin `Referer` "
                "over HTTPS, or they answer 403 `forbidden`.  Scripts should use a token."}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the error statuses each operation can answer, all
    with the one error body: 400 (input: a body or parameters), 401, 403, 404 (a path
    parameter, or a body naming objects), 406, 413 and 415 (a body), 429 (writes), 500, 503."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        params = self._get_parameters()
        path_params = any(p["in"] == "path" for p in params)
        codes = list(ALWAYS)
        if has_body or params:
            codes.append("400")
        if has_body or path_params:
            codes.append("404")
        if has_body:
            codes += ["413", "415"]
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes.append("429")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ERROR, code, ["application/json"], direction)
        for code, response in responses.items():
            if code in DESCRIPTIONS and not response.get("description"):
                response["description"] = DESCRIPTIONS[code]
        return dict(sorted(responses.items()))
