"""The errors crm_core raises on purpose. Each carries a message fit to show a user.

Pages and the CLI catch `CrmError` and show `str(exc)`; anything else is a bug.
"""

from __future__ import annotations

from typing import Any


class CrmError(Exception):
    """Base of every error meant for the user's eyes."""


class DatabaseOpenError(CrmError):
    """The database file cannot be opened (locked, not DuckDB, newer version, not writable)."""


class ValidationError(CrmError):
    """Input that cannot be stored: says which field, which value, and what was expected."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None):
        super().__init__(message)
        self.field = field
        self.value = value


class NotFound(CrmError):
    """The row asked for does not exist (or is not visible to this user)."""


class PermissionDenied(CrmError):
    """The acting user's role does not allow this."""


class StaleEditError(CrmError):
    """The row changed since the user loaded it; `current` holds the newer values."""

    def __init__(self, message: str, *, current: dict[str, Any] | None = None):
        super().__init__(message)
        self.current = current or {}


class DuplicateError(CrmError):
    """The row duplicates an existing one (first-in ownership of accounts, unique names)."""

    def __init__(self, message: str, *, existing: dict[str, Any] | None = None):
        super().__init__(message)
        self.existing = existing or {}
