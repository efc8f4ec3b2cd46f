"""The package version, apart so that the core can name it without importing `hookmail`."""

__version__ = "0.1.0"
