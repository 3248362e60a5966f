"""API tokens: random secrets handed out once, kept only as SHA-256 digests.

A token is ``sp_`` + 32 random bytes (URL-safe base64). The store keeps its SHA-256 and the
project and role it grants; a request's token is hashed and looked up, and the digests compared in
constant time. The secret never reaches the store, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from setpoint.adapters.store.registry_rows import check_role
from setpoint.ports import ROLES, Store, SystemClock, TokenRecord, TokenStore

PREFIX = "sp_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(store: Store, project: str, role: str) -> str:
    """A new token for ``project`` with ``role``; the only time the secret exists outside its holder."""
    check_role(role)
    token = PREFIX + secrets.token_urlsafe(32)
    now = SystemClock().now()
    store.create_project(project, now)
    store.put_token(TokenRecord(hash_token(token), project, role, now))
    return token


def lookup(store: TokenStore, token: str) -> TokenRecord | None:
    digest = hash_token(token)
    found = store.get_token(digest)
    if found is None or not hmac.compare_digest(found.token_hash, digest):
        return None
    return found


def allows(role: str, needed: str) -> bool:
    """Roles are ordered: viewer < editor < admin."""
    return ROLES.index(role) >= ROLES.index(needed)
