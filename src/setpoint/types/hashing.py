"""`HashMethod`: an output's own hash, used by the cache keys of the tasks that consume it.

``-> Annotated[pd.DataFrame, HashMethod(hash_df)]`` (flytekit's spelling) says: when a cached
task downstream takes this value as an input, key the cache on ``hash_df(value)`` rather than on
the digest of the stored bytes. That is how two runs that produce equal data in a different byte
form (a Parquet file written by another library version, rows with the same content) still hit
the cache.

The literal of such an output carries the hash beside the value::

    {"$hashed": {"hash": "<what the function returned>", "value": <the value's literal>}}

Every decoder looks through the wrapper (`unwrap`), and `setpoint.core.cachekey` hashes the
wrapper as the function's hash alone. Only tasks produce the wrapper: values given by a CLI or API
client lose it (`strip_hashes`), so a client cannot make one value pass for another in the cache.
Literals without the wrapper hash exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from setpoint.errors import TypeMismatchError, UserError
from setpoint.types.codecs import HASHED, Codec, unhash
from setpoint.types.context import JSON, LiteralContext, tagged

T = TypeVar("T")


class HashMethod(Generic[T]):
    """``Annotated[T, HashMethod(fn)]``: ``fn(value) -> str`` is the value's hash for cache keys."""

    def __init__(self, function: Callable[[T], str]) -> None:
        if not callable(function):
            raise UserError(f"HashMethod needs a function value -> str, got {type(function).__name__}")
        self._function = function

    def calculate(self, obj: T) -> str:
        return self._function(obj)

    def __repr__(self) -> str:
        return f"HashMethod({getattr(self._function, '__qualname__', self._function)!r})"


def hash_method_of(metadata: tuple[Any, ...]) -> HashMethod[Any] | None:
    for m in metadata:
        if isinstance(m, HashMethod):
            return m
    return None


def hashed_literal(hash_text: str, lit: JSON) -> JSON:
    return {HASHED: {"hash": hash_text, "value": lit}}


def unwrap(lit: JSON, where: str) -> JSON:
    """The value's literal inside a ``$hashed`` wrapper (the literal itself if there is none)."""
    return unhash(lit, where) if tagged(lit, HASHED) else lit


def strip_hashes(lit: JSON, where: str) -> JSON:
    """``lit`` with every ``$hashed`` wrapper replaced by its value (for values from clients)."""
    if isinstance(lit, list):
        return [strip_hashes(v, where) for v in lit]
    if isinstance(lit, dict):
        if tagged(lit, HASHED):
            return strip_hashes(unwrap(lit, where), where)
        return {k: strip_hashes(v, where) for k, v in lit.items()}
    return lit


class HashedCodec(Codec):
    """Wraps a codec: the value's literal goes out with the hash `HashMethod` computes for it."""

    def __init__(self, inner: Codec, method: HashMethod[Any]) -> None:
        self.inner, self.method = inner, method
        self.ref = inner.ref  # the hash is not part of the type: interfaces and keys are unchanged

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        lit = self.inner.encode(value, ctx, where, strict)
        try:
            h = self.method.calculate(value)
        except Exception as e:
            raise UserError(f"{where}: the HashMethod function {self.method!r} raised {type(e).__name__}: {e}") from e
        if not isinstance(h, str):
            raise TypeMismatchError(f"{where}: the HashMethod function must return a str, got {type(h).__name__}")
        return hashed_literal(h, lit)

    def decode(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        return self.inner.decode(lit, ctx, where)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        return self.inner.decode_inline(lit, ctx, where)
