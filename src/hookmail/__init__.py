"""hookmail: inbound email to signed webhooks."""

__version__ = "0.1.0"
