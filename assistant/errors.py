"""Which exceptions are the user's to fix, and the one line that tells them how."""

from __future__ import annotations


def user_message(err: Exception) -> str | None:
    import sqlite3

    from index.embed import ModelNotAvailable
    from index.filters import FilterError
    from index.load import InputError
    from index.manifest import IndexMismatch
    from index.store import IndexNotFound, StoreError

    if isinstance(err, (IndexMismatch, IndexNotFound, InputError, StoreError, UserError, FilterError,
                        ModelNotAvailable)):
        return str(err)
    if isinstance(err, PermissionError):
        return f"{err.filename}: permission denied"
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename}: {err.strerror}"
    if isinstance(err, sqlite3.DatabaseError):  # one the store did not name a file for
        return f"index database error: {err}; run 'assistant check --index DIR'"
    return None


class UserError(Exception):
    """A problem with what the user asked for, explained in one line."""


class BadRequest(UserError, ValueError):
    """An argument of `Assistant.ask` (or `Filters`) the caller must fix: an empty or over-long question,
    a date out of range, a date range that ends before it starts. A ValueError, so callers that catch
    ValueError keep working; a UserError, so the CLI prints it as one line (exit 2)."""
