"""Secret tokens: organiser API tokens, participants' personal links, calendar feeds.

A token is `<prefix>_<43 url-safe characters>` (256 bits of randomness). Only its SHA-256 hex
digest is stored, so a stolen database does not reveal working tokens; the prefix tells a
person (and a secret scanner) what kind of token it is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TypeGuard

#: Prefix of organiser API tokens.
ORGANISER_TOKEN_PREFIX = "mmo"  # noqa: S105 - a public prefix, not a secret
#: Prefix of participants' personal secret link tokens.
PARTICIPANT_TOKEN_PREFIX = "mmp"  # noqa: S105 - a public prefix, not a secret
#: Prefix of calendar feed tokens.
CALENDAR_TOKEN_PREFIX = "mmc"  # noqa: S105 - a public prefix, not a secret
#: Longest value looked up as a token (a token is 47 characters): anything longer is no token
#: of ours and is refused before it is hashed or sent to the database.
MAX_TOKEN_LENGTH = 200


def new_token(prefix: str) -> str:
    """A fresh, unguessable token such as `mmo_3q2x...`."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def worth_looking_up(token: str | None) -> TypeGuard[str]:
    """Whether `token` could be one of ours: given, and not longer than `MAX_TOKEN_LENGTH`."""
    return token is not None and 0 < len(token) <= MAX_TOKEN_LENGTH


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored in place of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    """Whether `token` hashes to `stored_hash`, compared in constant time."""
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


def display_prefix(token: str) -> str:
    """The first characters of a token, kept so an organiser can tell tokens apart."""
    return token[:12]
