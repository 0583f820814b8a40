"""Which exceptions are the user's to fix, and the one line that tells them how."""

from __future__ import annotations


def user_message(err: Exception) -> str | None:
    from index.load import InputError
    from index.manifest import IndexMismatch
    from index.store import IndexNotFound

    if isinstance(err, (IndexMismatch, IndexNotFound, InputError, UserError)):
        return str(err)
    if isinstance(err, PermissionError):
        return f"{err.filename}: permission denied"
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename}: {err.strerror}"
    return None


class UserError(Exception):
    """A problem with what the user asked for, explained in one line."""
