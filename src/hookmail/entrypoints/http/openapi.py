"""The OpenAPI 3.1 document of the whole API, built from small helpers.

A test checks that every route the app serves is documented here, and nothing more.
"""

from __future__ import annotations

from typing import Any

from hookmail import __version__

Json = dict[str, Any]

STRING: Json = {"type": "string"}
BOOLEAN: Json = {"type": "boolean"}
INTEGER: Json = {"type": "integer"}
UUID_: Json = {"type": "string", "format": "uuid"}
NULLABLE_STRING: Json = {"type": ["string", "null"]}
NULLABLE_UUID: Json = {"type": ["string", "null"], "format": "uuid"}
HEADERS: Json = {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 20}
DATETIME: Json = {"type": "string", "format": "date-time"}


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **props: Json) -> Json:
    return {"type": "object", "required": required, "properties": props}


ERROR = obj(["code", "error"], code=STRING, error=STRING)

_POLICY_FIELDS: dict[str, Json] = {
    "name": STRING,
    "require_smtp_auth": BOOLEAN,
    "smtp_credentials": STRING,
    "allowed_source_ips": STRING,
    "require_spf": BOOLEAN,
    "allowed_spf_domains": STRING,
    "require_dkim": BOOLEAN,
    "allowed_dkim_domains": STRING,
}
_WEBHOOK_FIELDS: dict[str, Json] = {
    "address": STRING,
    "target_url": STRING,
    "secret": STRING,
    "custom_headers": HEADERS,
    "payload_template": STRING,
    "rate_limit": {"type": "integer", "minimum": 0},
    "active": BOOLEAN,
    "smtp_security_policy_id": UUID_,
}

SCHEMAS: dict[str, Json] = {
    "Error": ERROR,
    "CreateAccountRequest": obj(["email", "password"], email=STRING, password=STRING),
    "CreateSessionRequest": obj(["email", "password"], email=STRING, password=STRING),
    "AccountResponse": obj(
        ["id", "email", "timezone", "created_at", "updated_at"],
        id=STRING,
        email=STRING,
        timezone=STRING,
        created_at=DATETIME,
        updated_at=DATETIME,
    ),
    "DeleteAccountRequest": obj(["password"], password=STRING, code=STRING),
    "ChangePasswordRequest": obj(
        ["current_password", "new_password"], current_password=STRING, new_password=STRING
    ),
    "UpdateTimezoneRequest": obj(["timezone"], timezone=STRING),
    "RequestPasswordResetRequest": obj(["email"], email=STRING),
    "ConfirmPasswordResetRequest": obj(
        ["token", "new_password"], token=STRING, new_password=STRING
    ),
    "TOTPCodeRequest": obj(["code"], code=STRING),
    "EnableTOTPRequest": obj(["code"], code=STRING),
    "SetupTOTPResponse": obj(
        ["secret", "otpauth_url", "qr_code_png"],
        secret=STRING,
        otpauth_url=STRING,
        qr_code_png=STRING,
    ),
    "BackupCodesResponse": obj(["backup_codes"], backup_codes={"type": "array", "items": STRING}),
    "SessionResponse": obj(
        ["access_token", "refresh_token", "expires_in", "token_type"],
        access_token=STRING,
        refresh_token=STRING,
        expires_in={"type": "integer"},
        token_type={"type": "string", "enum": ["Bearer"]},
    ),
    "TOTPChallengeResponse": obj(
        ["totp_required", "totp_token", "expires_in"],
        totp_required={"type": "boolean", "const": True},
        totp_token=STRING,
        expires_in={"type": "integer"},
    ),
    "CompleteTOTPRequest": obj(["totp_token", "code"], totp_token=STRING, code=STRING),
    "RefreshSessionRequest": obj(["refresh_token"], refresh_token=STRING),
    "DeleteSessionRequest": obj(["refresh_token"], refresh_token=STRING),
    "CreateDomainRequest": obj(["name"], name=STRING),
    "DomainResponse": obj(
        [
            "id",
            "account_id",
            "name",
            "verification_token",
            "verified",
            "is_public",
            "created_at",
            "updated_at",
        ],
        id=UUID_,
        account_id=NULLABLE_UUID,
        name=STRING,
        verification_token=STRING,
        verified=BOOLEAN,
        is_public=BOOLEAN,
        created_at=DATETIME,
        updated_at=DATETIME,
    ),
    "CreateSmtpSecurityPolicyRequest": obj(["name"], **_POLICY_FIELDS),
    "UpdateSmtpSecurityPolicyRequest": obj([], **_POLICY_FIELDS),
    "SmtpSecurityPolicyResponse": obj(
        ["id", *_POLICY_FIELDS, "created_at", "updated_at"],
        id=UUID_,
        **_POLICY_FIELDS,
        created_at=DATETIME,
        updated_at=DATETIME,
    ),
    "CreateWebhookRequest": obj(["address", "target_url"], **_WEBHOOK_FIELDS),
    "UpdateWebhookRequest": obj([], **_WEBHOOK_FIELDS, clear_security_policy=BOOLEAN),
    "WebhookResponse": obj(
        ["id", *_WEBHOOK_FIELDS, "created_at", "updated_at"],
        id=UUID_,
        **{
            **_WEBHOOK_FIELDS,
            "payload_template": NULLABLE_STRING,
            "smtp_security_policy_id": NULLABLE_UUID,
        },
        created_at=DATETIME,
        updated_at=DATETIME,
    ),
    "DeliveryLogResponse": obj(
        [
            "id",
            "webhook_id",
            "attempted_at",
            "duration_ms",
            "http_status",
            "error",
            "sender",
            "smtp_message_id",
            "attempt",
            "status",
            "next_attempt_at",
        ],
        id=UUID_,
        webhook_id=UUID_,
        attempted_at=DATETIME,
        duration_ms=INTEGER,
        http_status=INTEGER,
        error=NULLABLE_STRING,
        sender=STRING,
        smtp_message_id=STRING,
        attempt=INTEGER,
        status={"type": "string", "enum": ["delivered", "retrying", "failed", "refused"]},
        next_attempt_at={"type": ["string", "null"], "format": "date-time"},
    ),
}

_REASONS = {
    "400": "Invalid JSON",
    "401": "Unauthorized",
    "404": "Not found",
    "409": "Conflict",
    "413": "Payload too large",
    "422": "Validation error",
    "429": "Too many attempts",
    "503": "Store unavailable",
}


def _json(schema: Json) -> Json:
    return {"application/json": {"schema": schema}}


def op(
    operation_id: str,
    summary: str,
    tag: str,
    *,
    ok: tuple[str, Json | None],
    body: str | None = None,
    errors: tuple[str, ...] = (),
    secured: bool = True,
    params: tuple[Json, ...] = (),
) -> Json:
    """One operation. `ok` is (status, schema or None); `errors` lists the error statuses."""
    status, schema = ok
    responses: Json = {status: {"description": summary}}
    if schema is not None:
        responses[status]["content"] = _json(schema)
    codes = set(errors) | ({"401"} if secured else set())
    if body is not None:
        codes |= {"400", "413", "422"}
    for code in sorted(codes):
        responses[code] = {"description": _REASONS[code], "content": _json(ref("Error"))}
    operation: Json = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
        "security": [{"bearer": []}] if secured else [],
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(ref(body))}
    if params:
        operation["parameters"] = list(params)
    return operation


def path_id(description: str, name: str = "id") -> Json:
    return {
        "in": "path",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string", "format": "uuid"},
    }


PATHS: dict[str, dict[str, Json]] = {
    "/api/v1/accounts": {
        "post": op(
            "createAccount",
            "Sign up",
            "accounts",
            ok=("201", ref("AccountResponse")),
            body="CreateAccountRequest",
            errors=("409", "429"),
            secured=False,
        ),
    },
    "/api/v1/accounts/me": {
        "get": op(
            "getAccount", "Get current account", "accounts", ok=("200", ref("AccountResponse"))
        ),
        "delete": op(
            "deleteAccount",
            "Delete account",
            "accounts",
            ok=("204", None),
            body="DeleteAccountRequest",
            errors=("401", "429"),
        ),
    },
    "/api/v1/accounts/me/password": {
        "put": op(
            "changePassword",
            "Change password",
            "accounts",
            ok=("204", None),
            body="ChangePasswordRequest",
            errors=("401", "429"),
        ),
    },
    "/api/v1/accounts/me/timezone": {
        "put": op(
            "updateTimezone",
            "Update timezone",
            "accounts",
            ok=("204", None),
            body="UpdateTimezoneRequest",
        ),
    },
    "/api/v1/accounts/password-reset": {
        "post": op(
            "requestPasswordReset",
            "Request password reset",
            "accounts",
            ok=("202", None),
            body="RequestPasswordResetRequest",
            errors=("429",),
            secured=False,
        ),
        "put": op(
            "confirmPasswordReset",
            "Confirm password reset",
            "accounts",
            ok=("204", None),
            body="ConfirmPasswordResetRequest",
            errors=("401", "429"),
            secured=False,
        ),
    },
    "/api/v1/accounts/me/2fa": {
        "delete": op(
            "disableTOTP",
            "Disable TOTP two-factor authentication",
            "2fa",
            ok=("204", None),
            body="TOTPCodeRequest",
            errors=("401", "429"),
        ),
    },
    "/api/v1/accounts/me/2fa/backup-codes": {
        "post": op(
            "regenerateBackupCodes",
            "Regenerate TOTP backup codes",
            "2fa",
            ok=("200", ref("BackupCodesResponse")),
            body="TOTPCodeRequest",
            errors=("401", "429"),
        ),
    },
    "/api/v1/accounts/me/2fa/enable": {
        "post": op(
            "enableTOTP",
            "Enable TOTP two-factor authentication",
            "2fa",
            ok=("200", ref("BackupCodesResponse")),
            body="EnableTOTPRequest",
            errors=("401", "409", "429"),
        ),
    },
    "/api/v1/accounts/me/2fa/setup": {
        "post": op(
            "setupTOTP",
            "Set up TOTP two-factor authentication",
            "2fa",
            ok=("200", ref("SetupTOTPResponse")),
            errors=("409",),
        ),
    },
    "/api/v1/sessions": {
        "post": op(
            "createSession",
            "Sign in",
            "sessions",
            ok=("200", {"oneOf": [ref("SessionResponse"), ref("TOTPChallengeResponse")]}),
            body="CreateSessionRequest",
            errors=("401", "429"),
            secured=False,
        ),
        "delete": op(
            "deleteSession",
            "Sign out",
            "sessions",
            ok=("204", None),
            body="DeleteSessionRequest",
            errors=("401",),
            secured=False,
        ),
    },
    "/api/v1/sessions/2fa": {
        "post": op(
            "completeTOTPSession",
            "Complete sign-in with TOTP code",
            "sessions2fa",
            ok=("200", ref("SessionResponse")),
            body="CompleteTOTPRequest",
            errors=("401", "429"),
            secured=False,
        ),
    },
    "/api/v1/sessions/refresh": {
        "post": op(
            "refreshSession",
            "Refresh access token",
            "sessions",
            ok=("200", ref("SessionResponse")),
            body="RefreshSessionRequest",
            errors=("401",),
            secured=False,
        ),
    },
    "/api/v1/domains": {
        "get": op(
            "listDomains",
            "List domains",
            "domains",
            ok=("200", {"type": "array", "items": ref("DomainResponse")}),
        ),
        "post": op(
            "createDomainClaim",
            "Claim a domain",
            "domains",
            ok=("201", ref("DomainResponse")),
            body="CreateDomainRequest",
            errors=("409",),
        ),
    },
    "/api/v1/domains/{id}": {
        "get": op(
            "getDomain",
            "Get domain",
            "domains",
            ok=("200", ref("DomainResponse")),
            errors=("404",),
            params=(path_id("Domain ID"),),
        ),
        "delete": op(
            "deleteDomain",
            "Delete domain",
            "domains",
            ok=("204", None),
            errors=("404",),
            params=(path_id("Domain ID"),),
        ),
    },
    "/api/v1/domains/{id}/verify": {
        "post": op(
            "verifyDomain",
            "Trigger DNS TXT verification for a domain",
            "domains",
            ok=("200", ref("DomainResponse")),
            errors=("404", "409", "422"),
            params=(path_id("Domain ID"),),
        ),
    },
    "/api/v1/smtp-policies": {
        "get": op(
            "listSmtpSecurityPolicies",
            "List SMTP security policies",
            "smtp-security-policies",
            ok=("200", {"type": "array", "items": ref("SmtpSecurityPolicyResponse")}),
        ),
        "post": op(
            "createSmtpSecurityPolicy",
            "Create SMTP security policy",
            "smtp-security-policies",
            ok=("201", ref("SmtpSecurityPolicyResponse")),
            body="CreateSmtpSecurityPolicyRequest",
        ),
    },
    "/api/v1/smtp-policies/{id}": {
        "get": op(
            "getSmtpSecurityPolicy",
            "Get SMTP security policy",
            "smtp-security-policies",
            ok=("200", ref("SmtpSecurityPolicyResponse")),
            errors=("404",),
            params=(path_id("SMTP security policy ID"),),
        ),
        "put": op(
            "updateSmtpSecurityPolicy",
            "Update SMTP security policy",
            "smtp-security-policies",
            ok=("200", ref("SmtpSecurityPolicyResponse")),
            body="UpdateSmtpSecurityPolicyRequest",
            errors=("404",),
            params=(path_id("SMTP security policy ID"),),
        ),
        "delete": op(
            "deleteSmtpSecurityPolicy",
            "Delete SMTP security policy",
            "smtp-security-policies",
            ok=("204", None),
            errors=("404", "409"),
            params=(path_id("SMTP security policy ID"),),
        ),
    },
    "/api/v1/webhooks": {
        "get": op(
            "listWebhooks",
            "List webhooks",
            "webhooks",
            ok=("200", {"type": "array", "items": ref("WebhookResponse")}),
        ),
        "post": op(
            "createWebhook",
            "Create webhook",
            "webhooks",
            ok=("201", ref("WebhookResponse")),
            body="CreateWebhookRequest",
            errors=("409",),
        ),
    },
    "/api/v1/webhooks/{id}": {
        "get": op(
            "getWebhook",
            "Get webhook",
            "webhooks",
            ok=("200", ref("WebhookResponse")),
            errors=("404",),
            params=(path_id("Webhook ID"),),
        ),
        "put": op(
            "updateWebhook",
            "Update webhook",
            "webhooks",
            ok=("200", ref("WebhookResponse")),
            body="UpdateWebhookRequest",
            errors=("404", "409"),
            params=(path_id("Webhook ID"),),
        ),
        "delete": op(
            "deleteWebhook",
            "Delete webhook",
            "webhooks",
            ok=("204", None),
            errors=("404",),
            params=(path_id("Webhook ID"),),
        ),
    },
    "/api/v1/webhooks/{id}/logs": {
        "get": op(
            "listDeliveryLogs",
            "List delivery logs for a webhook",
            "webhooks",
            ok=("200", {"type": "array", "items": ref("DeliveryLogResponse")}),
            errors=("404", "422"),
            params=(
                path_id("Webhook ID"),
                {
                    "in": "query",
                    "name": "page",
                    "required": False,
                    "description": "Page number (1-based)",
                    "schema": {"type": "integer", "minimum": 1},
                },
                {
                    "in": "query",
                    "name": "page_size",
                    "required": False,
                    "description": "Number of results per page",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                },
            ),
        ),
    },
    "/api/v1/webhooks/{id}/logs/{logId}": {
        "get": op(
            "getDeliveryLog",
            "Get a single delivery log entry",
            "webhooks",
            ok=("200", ref("DeliveryLogResponse")),
            errors=("404",),
            params=(path_id("Webhook ID"), path_id("Delivery log entry ID", "logId")),
        ),
    },
    "/healthz": {"get": op("health", "Liveness", "system", ok=("200", None), secured=False)},
    "/readyz": {
        "get": op(
            "ready",
            "Readiness: the store answers",
            "system",
            ok=("200", None),
            errors=("503",),
            secured=False,
        )
    },
    "/metrics": {
        "get": op("metrics", "Prometheus metrics", "system", ok=("200", None), secured=False)
    },
    "/api/v1/openapi.json": {
        "get": op("openapi", "This document", "system", ok=("200", None), secured=False),
    },
}


def document() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hookmail",
            "version": __version__,
            "description": "Inbound email to signed webhooks.",
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
