"""Email address syntax through email-validator, without DNS."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from hookmail.core.errors import InvalidField


class EmailValidatorSyntax:
    def normalize(self, raw: str) -> str:
        try:
            checked = validate_email(raw.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            raise InvalidField("email", str(exc)) from None
        return str(checked.normalized).lower()
