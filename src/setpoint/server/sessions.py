"""Console sessions: a signed cookie standing for an API token, and the CSRF token that goes with it.

The console signs in once with a token (``POST /console/session``); the server answers with a
cookie, and the browser sends that cookie instead of the token from then on. The cookie is
``v1.<payload>.<signature>``: the payload names the token by its SHA-256 (the store's key, never
the secret), an expiry and a random nonce; the signature is an HMAC-SHA256 under a server secret
kept in the home (``console-secret``, mode 0600, made on first use). Each request re-reads the
token's record, so a deleted token ends its sessions at once and the role is always the stored one.

A cookie is sent by the browser whatever page asks, so a request it authenticates that writes
(POST, PUT, PATCH, DELETE) must also carry ``X-CSRF-Token``: an HMAC of the session's nonce that
only a page of this origin can read (from ``GET /console/session``). Signing out adds the nonce to
a revocation set held until the cookie would have expired anyway; replacing the secret file ends
every session of every server process that reads it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from setpoint.errors import NotFoundError
from setpoint.ports import TokenRecord, TokenStore
from setpoint.server import tokens
from setpoint.server.errors import FORBIDDEN, UNAUTHENTICATED, ApiError
from setpoint.server.routing import Principal

COOKIE = "setpoint_session"
CSRF_HEADER = "X-CSRF-Token"
SECRET_FILE = "console-secret"
TTL_S = 12 * 3600.0
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF = (403, "csrf")


def load_secret(home: Path) -> bytes:
    """The server secret of ``home``: 32 random bytes, created (mode 0600) the first time.

    It is written whole to a private temporary file and then linked into place, so servers that
    start together on one home all read the one secret that won, never a partial file.
    """
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        tmp = home / f".{SECRET_FILE}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    data = path.read_bytes()
    if len(data) < 32:
        raise OSError(f"{path} holds {len(data)} bytes, fewer than a secret; delete it to make a new one")
    return data


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    expires: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues, checks and revokes console session cookies for one server."""

    def __init__(self, secret: bytes, store: TokenStore, *, ttl_s: float = TTL_S) -> None:
        self._secret = secret
        self._store = store
        self.ttl_s = ttl_s
        self._revoked: dict[str, float] = {}  # nonce -> when its cookie would expire
        self._lock = threading.Lock()

    def _sign(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}\0{text}".encode(), hashlib.sha256).digest())

    def issue(self, record: TokenRecord, now: float | None = None) -> tuple[str, Session]:
        """A new cookie value for the token ``record`` names, and its session."""
        session = Session(record.token_hash, (time.time() if now is None else now) + self.ttl_s, secrets.token_hex(16))
        payload = _b64(json.dumps({"t": session.token_hash, "e": session.expires, "n": session.nonce}).encode())
        return f"v1.{payload}.{self._sign('cookie', payload)}", session

    def read(self, cookie: str, now: float | None = None) -> Session | None:
        """The session a cookie carries, or None if it is forged, malformed, expired or signed out."""
        parts = cookie.split(".")
        if len(parts) != 3 or parts[0] != "v1" or len(cookie) > 1000:
            return None
        if not hmac.compare_digest(parts[2], self._sign("cookie", parts[1])):
            return None
        try:
            data = json.loads(_unb64(parts[1]))
            session = Session(str(data["t"]), float(data["e"]), str(data["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        with self._lock:
            if session.nonce in self._revoked or session.expires <= now:
                return None
        return session

    def csrf(self, session: Session) -> str:
        return self._sign("csrf", session.nonce)

    def revoke(self, session: Session) -> None:
        now = time.time()
        with self._lock:
            self._revoked = {n: exp for n, exp in self._revoked.items() if exp > now}
            self._revoked[session.nonce] = session.expires

    def record(self, session: Session) -> TokenRecord | None:
        """The token the session stands for, if it still exists."""
        found = self._store.get_token(session.token_hash)
        if found is None or not hmac.compare_digest(found.token_hash, session.token_hash):
            return None
        return found

    def sign_in(self, token: str) -> TokenRecord | None:
        return tokens.lookup(self._store, token)

    def principal(self, request: Request, cookie: str, role: str) -> Principal:
        """Who a cookie-authenticated request is, with the same scoping and roles as a bearer token."""
        session = self.read(cookie)
        record = None if session is None else self.record(session)
        if session is None or record is None:
            raise ApiError(*UNAUTHENTICATED, "the console session is not valid or has expired; sign in again")
        if request.method in MUTATING:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), self.csrf(session).encode()):
                raise ApiError(*CSRF, f"a request that writes needs the {CSRF_HEADER} header of its session")
        project = request.path_params.get("project")
        if project is not None and project != record.project:
            raise NotFoundError(f"project '{project}' not found")
        if not tokens.allows(record.role, role):
            raise ApiError(*FORBIDDEN, f"this route needs the {role} role; the session has {record.role}")
        return Principal(record.project, record.role)
