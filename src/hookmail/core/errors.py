"""Domain errors. Each leaf carries the stable `code` of SPEC.md; the family decides the status."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"


class InvalidInput(DomainError):
    code = "validation_error"


class Unauthenticated(DomainError):
    code = "unauthorized"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PreconditionFailed(DomainError):
    """The request is well formed but the object is not in a state that allows it (422)."""

    code = "precondition_failed"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts; try again later")
        self.retry_after = retry_after


class TemplateRenderError(DomainError):
    """A payload template could not be rendered for one delivery: that attempt fails."""

    code = "template_render_failed"


class InvalidField(InvalidInput):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class InvalidCredentials(Unauthenticated):
    def __init__(self, message: str = "invalid credentials") -> None:
        super().__init__(message)


class InvalidTotpCode(Unauthenticated):
    code = "invalid_totp_code"

    def __init__(self) -> None:
        super().__init__("the code is wrong, expired or already used")


class InvalidToken(Unauthenticated):
    code = "invalid_token"

    def __init__(self, message: str = "the token is invalid or expired") -> None:
        super().__init__(message)


class EmailTaken(Conflict):
    code = "email_taken"

    def __init__(self) -> None:
        super().__init__("an account with this email already exists")


class TotpAlreadyEnabled(Conflict):
    code = "totp_already_enabled"

    def __init__(self) -> None:
        super().__init__("two-factor authentication is already enabled")


class TotpNotEnabled(PreconditionFailed):
    code = "totp_not_enabled"

    def __init__(self) -> None:
        super().__init__("two-factor authentication is not enabled")


class TotpNotSetUp(PreconditionFailed):
    code = "totp_not_set_up"

    def __init__(self) -> None:
        super().__init__("two-factor authentication has not been set up; call setup first")


class AccountNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("account not found")


class DomainTaken(Conflict):
    code = "domain_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"the domain {name} is already claimed")


class AddressTaken(Conflict):
    code = "address_taken"

    def __init__(self, address: str) -> None:
        super().__init__(f"the address {address} already has a webhook")


class QuotaExceeded(Conflict):
    code = "quota_exceeded"

    def __init__(self, what: str, quota: int) -> None:
        super().__init__(f"this account already has the most {what} allowed ({quota})")
        self.quota = quota


class PolicyInUse(Conflict):
    code = "policy_in_use"

    def __init__(self) -> None:
        super().__init__("the policy is used by a webhook; detach it first")


class DnsVerificationFailed(PreconditionFailed):
    code = "dns_verification_failed"


class DomainNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("domain not found")


class PolicyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("SMTP security policy not found")


class WebhookNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("webhook not found")


class DeliveryLogNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("delivery log entry not found")


class MessageNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("message not found")


class AttachmentNotFound(NotFound):
    """Tampered, unknown, expired, or its message is gone: one answer for all."""

    def __init__(self) -> None:
        super().__init__("attachment not found (the URL is wrong, expired, or its mail is gone)")
