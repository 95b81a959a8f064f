"""Password hashing with argon2id.

Parameters are OWASP's recommended minimum for argon2id (19 MiB memory, 2
passes, 1 lane): strong against guessing, and quick enough (tens of
milliseconds) that a sign-in or a `crm --user` command on a busy 2-core server
does not stall. Hashes made with other parameters still verify; `needs_rehash`
lets a successful sign-in upgrade them.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False
