"""Codecs: one object per Python type that turns values into literals and back.

The engine (`setpoint.types.engine`) inspects a Python type once and builds a tree of codecs; each
codec knows its `TypeRef` and how to encode and decode. Encoding checks the value as it goes, so a
wrong value is reported where it sits (``input 'cfg', field 'layers', item 3``) rather than as a
confusing failure later. Decoding checks the literal's shape too: literals come from storage and
from users, and a tampered one must fail with a clear message, not a ``KeyError``.

``strict`` encoding accepts only values of exactly the declared type (no ``int`` where a ``float``
is declared, never ``bool`` for ``int``); unions try every variant strictly before trying them
leniently, so ``int | float`` keeps ``1`` an ``int`` and ``1.0`` a ``float``.
"""

from __future__ import annotations

import abc
import base64
import binascii
import datetime as dt
import math
import numbers
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from setpoint.errors import TypeMismatchError, UserError
from setpoint.spec.bindings import PathError, follow_path, show_path
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.types.context import (
    JSON,
    LiteralContext,
    bad_literal,
    escape_key,
    mismatch,
    parse_ref,
    ref_literal,
    resolve_json,
    tagged,
    unescape_key,
)
from setpoint.types.files import Directory, File, load_directory, load_file, store_directory, store_file
from setpoint.types.pickling import ALLOW, CLASSES, FORBID, forbidden_message, pickle_policy

_MICROSECOND = dt.timedelta(microseconds=1)
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class Codec(abc.ABC):
    ref: TypeRef

    @abc.abstractmethod
    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        """The literal of ``value``, or `TypeMismatchError` naming ``where``."""

    def decode(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        """The Python value of a literal; offloaded (``$ref`` json) parts are fetched first."""
        if tagged(lit, "$at"):
            lit = resolve_at(lit, ctx, where)
        lit = resolve_json(lit, ctx, where)
        if tagged(lit, HASHED):  # an output's HashMethod hash rides along; the value is inside
            lit = resolve_json(unhash(lit, where), ctx, where)
        return self.decode_inline(lit, ctx, where)

    @abc.abstractmethod
    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any: ...


HASHED = "$hashed"  # {"$hashed": {"hash": str, "value": literal}}: see setpoint.types.hashing


def unhash(lit: dict[str, Any], where: str) -> JSON:
    """The value inside a ``$hashed`` wrapper (`TypeMismatchError` if the wrapper is malformed)."""
    body = lit[HASHED]
    if not (isinstance(body, dict) and set(body) == {"hash", "value"} and isinstance(body["hash"], str)):
        raise TypeMismatchError(f"{where}: malformed {HASHED} literal (expected keys hash (a string) and value)")
    return body["value"]


def resolve_at(lit: dict[str, Any], ctx: LiteralContext, where: str) -> JSON:
    """Finish a path the controller could not follow past an offloaded part (see spec/bindings.py)."""
    body = lit["$at"]
    if not isinstance(body, dict) or not isinstance(body.get("path"), list):
        raise bad_literal(where, "a path into a value", lit)
    value: JSON = body.get("value")
    path: tuple[str | int, ...] = tuple(body["path"])
    while path:
        value = resolve_json(value, ctx, where)
        if tagged(value, "$ref"):  # a parquet or pickle blob: not a value with parts
            raise TypeMismatchError(f"{where}: cannot take {show_path(path)} of a stored blob")
        try:
            value, path = follow_path(value, path, offloaded=lambda v: tagged(v, "$ref"))
        except PathError as e:
            raise TypeMismatchError(f"{where}: {e}") from None
    return value


# ---------------------------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------------------------


class IntCodec(Codec):
    ref = TypeRef(TypeKind.INT)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if isinstance(value, bool) or not isinstance(value, int if strict else numbers.Integral):
            raise mismatch(where, self.ref, value)
        return int(value)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if isinstance(lit, bool) or not isinstance(lit, int):
            raise bad_literal(where, self.ref, lit)
        return lit


def encode_float(x: float) -> JSON:
    if math.isnan(x):
        return {"$float": "nan"}
    if math.isinf(x):
        return {"$float": "inf" if x > 0 else "-inf"}
    return x


class FloatCodec(Codec):
    ref = TypeRef(TypeKind.FLOAT)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if isinstance(value, bool) or not isinstance(value, float if strict else numbers.Real):
            raise mismatch(where, self.ref, value)
        return encode_float(float(value))

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if isinstance(lit, int | float) and not isinstance(lit, bool):
            return float(lit)  # an int literal is a valid float (int -> float bindings are allowed)
        if tagged(lit, "$float") and lit["$float"] in _NON_FINITE:
            return _NON_FINITE[lit["$float"]]
        raise bad_literal(where, self.ref, lit)


class _ExactCodec(Codec):
    """A scalar whose literal is the JSON value itself (str, bool, None)."""

    py: type

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if type(value) is not self.py and not (self.py is str and isinstance(value, str)):
            raise mismatch(where, self.ref, value)
        return str(value) if self.py is str else value

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if type(lit) is not self.py:
            raise bad_literal(where, self.ref, lit)
        return lit


class StrCodec(_ExactCodec):
    ref, py = TypeRef(TypeKind.STR), str


class BoolCodec(_ExactCodec):
    ref, py = TypeRef(TypeKind.BOOL), bool


class NoneCodec(_ExactCodec):
    ref, py = TypeRef(TypeKind.NONE), type(None)


class BytesCodec(Codec):
    ref = TypeRef(TypeKind.BYTES)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, bytes if strict else bytes | bytearray | memoryview):
            raise mismatch(where, self.ref, value)
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if tagged(lit, "$bytes") and isinstance(lit["$bytes"], str):
            try:
                return base64.b64decode(lit["$bytes"], validate=True)
            except (binascii.Error, ValueError):
                pass
        raise bad_literal(where, self.ref, lit)


def encode_datetime(value: dt.datetime) -> str:
    """ISO text; aware values are normalised to UTC so equal instants give equal literals."""
    if value.utcoffset() is not None:
        value = dt.datetime.astimezone(value, dt.UTC)
    return dt.datetime.isoformat(value)


class DatetimeCodec(Codec):
    ref = TypeRef(TypeKind.DATETIME)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, dt.datetime):
            raise mismatch(where, self.ref, value)
        return {"$datetime": encode_datetime(value)}

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if tagged(lit, "$datetime") and isinstance(lit["$datetime"], str):
            try:
                return dt.datetime.fromisoformat(lit["$datetime"])
            except ValueError:
                pass
        raise bad_literal(where, self.ref, lit)


class TimedeltaCodec(Codec):
    ref = TypeRef(TypeKind.TIMEDELTA)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, dt.timedelta):
            raise mismatch(where, self.ref, value)
        return {"$timedelta": value // _MICROSECOND}

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if tagged(lit, "$timedelta"):
            n = lit["$timedelta"]
            if isinstance(n, int) and not isinstance(n, bool):
                try:
                    return dt.timedelta(microseconds=n)
                except OverflowError:
                    pass
        raise bad_literal(where, self.ref, lit)


# ---------------------------------------------------------------------------------------------
# Collections and unions
# ---------------------------------------------------------------------------------------------


class ListCodec(Codec):
    def __init__(self, item: Codec) -> None:
        self.item = item
        self.ref = TypeRef.list_of(item.ref)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, list if strict else list | tuple):
            raise mismatch(where, self.ref, value)
        return [self.item.encode(v, ctx, f"{where}, item {i}", strict) for i, v in enumerate(value)]

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not isinstance(lit, list):
            raise bad_literal(where, self.ref, lit)
        return [self.item.decode(v, ctx, f"{where}, item {i}") for i, v in enumerate(lit)]


class DictCodec(Codec):
    def __init__(self, value: Codec) -> None:
        self.value = value
        self.ref = TypeRef.dict_of(value.ref)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, dict if strict else Mapping):
            raise mismatch(where, self.ref, value)
        out: dict[str, JSON] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeMismatchError(f"{where}: expected {self.ref} (string keys), got key {k!r}")
            out[escape_key(k)] = self.value.encode(v, ctx, f"{where}, key {k!r}", strict)
        return out

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not isinstance(lit, dict):
            raise bad_literal(where, self.ref, lit)
        out: dict[str, Any] = {}
        for k, v in lit.items():
            if k.startswith("$") and not k.startswith("$$"):
                raise bad_literal(where, self.ref, lit)  # an unknown tag, not dict data
            out[unescape_key(k)] = self.value.decode(v, ctx, f"{where}, key {unescape_key(k)!r}")
        return out


class KeyedDictCodec(Codec):
    """``dict[K, V]`` with int, float, bool or enum keys: keys travel as text, as JSON writes them.

    The literal is that of ``dict[str, V]`` (so every tool that shows or parses dicts handles it);
    the `TypeRef` names the key type, and decoding turns each key back into a ``K``.
    """

    def __init__(self, key: Codec, value: Codec) -> None:
        self.key, self.value = key, value
        self.ref = TypeRef(TypeKind.DICT, (value.ref,), name=key_name(key.ref))
        self._inner = DictCodec(value)

    def _key_text(self, k: Any, where: str) -> str:
        lit = self.key.encode(k, LiteralContext(None, None), f"{where}, key {k!r}", True)
        if isinstance(lit, bool):
            return "true" if lit else "false"
        if isinstance(lit, dict):  # a non-finite float
            return str(next(iter(lit.values())))
        return str(lit)

    def _key_value(self, text: str, where: str) -> Any:
        kind = self.key.ref.kind
        try:
            lit: JSON
            if kind is TypeKind.INT:
                lit = int(text)
            elif kind is TypeKind.FLOAT:
                lit = {"$float": text} if text in _NON_FINITE else float(text)
            elif kind is TypeKind.BOOL:
                lit = {"true": True, "false": False}[text]
            else:
                lit = text
        except (ValueError, KeyError):
            raise TypeMismatchError(f"{where}: key {text!r} is not a {self.key.ref}") from None
        return self.key.decode(lit, LiteralContext(None, None), f"{where}, key {text!r}")

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, dict if strict else Mapping):
            raise mismatch(where, self.ref, value)
        texts = {self._key_text(k, where): v for k, v in value.items()}
        if len(texts) != len(value):
            raise TypeMismatchError(f"{where}: two keys of the dict have the same text form")
        return self._inner.encode(texts, ctx, where, strict)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        return {self._key_value(k, where): v for k, v in self._inner.decode_inline(lit, ctx, where).items()}


def key_name(t: TypeRef) -> str:
    """How a `TypeRef` of a dict records a key type other than str."""
    return t.name if t.kind is TypeKind.ENUM else t.kind.value


class JsonCodec(Codec):
    """A JSON-like value of no declared type (the items of a bare ``list``, the values of a ``dict``)."""

    def __init__(self) -> None:
        self.ref = TypeRef(TypeKind.ANY)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return encode_float(value)
        if isinstance(value, list | tuple):
            return [self.encode(v, ctx, f"{where}, item {i}", strict) for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            out: dict[str, JSON] = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise TypeMismatchError(f"{where}: a JSON-like dict needs string keys, got key {k!r}")
                out[escape_key(k)] = self.encode(v, ctx, f"{where}, key {k!r}", strict)
            return out
        raise TypeMismatchError(
            f"{where}: {type(value).__name__} is not a JSON-like value (None, bool, int, float, str, "
            "list or dict); declare the type, e.g. list[MyDataclass]"
        )

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if isinstance(lit, list):
            return [self.decode(v, ctx, f"{where}, item {i}") for i, v in enumerate(lit)]
        if isinstance(lit, dict):
            if tagged(lit, "$float") and lit["$float"] in _NON_FINITE:
                return _NON_FINITE[lit["$float"]]
            # Other "$" keys are data: encoding escapes them ("$$k"), and plain JSON from a client
            # (a CLI argument typed only as `any`) arrives unescaped; both read back as "$k".
            return {unescape_key(k): self.decode(v, ctx, f"{where}, key {unescape_key(k)!r}") for k, v in lit.items()}
        return lit


class IteratorCodec(Codec):
    """``Iterator[T]``: what the iterator yields travels as a list; the receiver gets an iterator."""

    def __init__(self, item: Codec) -> None:
        self._list = ListCodec(item)
        self.ref = self._list.ref

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
            raise mismatch(where, self.ref, value)
        return self._list.encode(list(value), ctx, where, strict)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        return iter(self._list.decode_inline(lit, ctx, where))


class UnionCodec(Codec):
    """``Optional[T]`` encodes T's literal or null; other unions tag the variant index."""

    def __init__(self, ref: TypeRef, variants: Sequence[Codec]) -> None:
        self.ref = ref
        self.variants = tuple(variants)
        non_none = [c for c in self.variants if c.ref.kind is not TypeKind.NONE]
        self.optional_of = non_none[0] if len(self.variants) == 2 and len(non_none) == 1 else None

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if self.optional_of is not None:
            return None if value is None else self.optional_of.encode(value, ctx, where, strict)
        for exact in (True,) if strict else (True, False):
            for i, codec in enumerate(self.variants):
                try:
                    return {"$variant": i, "value": codec.encode(value, ctx, where, exact)}
                except TypeMismatchError:
                    continue
        raise mismatch(where, self.ref, value)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if self.optional_of is not None:
            return None if lit is None else self.optional_of.decode(lit, ctx, where)
        if isinstance(lit, dict) and set(lit) == {"$variant", "value"}:
            i = lit["$variant"]
            if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(self.variants):
                return self.variants[i].decode(lit["value"], ctx, where)
        raise bad_literal(where, self.ref, lit)


# ---------------------------------------------------------------------------------------------
# Structs and enums
# ---------------------------------------------------------------------------------------------


class StructCodec(Codec):
    """Dataclasses and pydantic models: an object of field literals."""

    def __init__(
        self,
        cls: type,
        ref: TypeRef,
        fields: Sequence[tuple[str, Codec]],
        build: Callable[[dict[str, Any]], Any],
    ) -> None:
        self.cls, self.ref, self.fields, self.build = cls, ref, tuple(fields), build

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, self.cls):
            raise mismatch(where, self.ref, value)
        return {
            name: codec.encode(getattr(value, name), ctx, f"{where}, field '{name}'", strict)
            for name, codec in self.fields
        }

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not isinstance(lit, dict):
            raise bad_literal(where, self.ref, lit)
        names = [n for n, _ in self.fields]
        missing = [n for n in names if n not in lit]
        unknown = sorted(k for k in lit if k not in names)
        if missing or unknown:
            raise TypeMismatchError(
                f"{where}: literal does not match {self.ref}: "
                + "; ".join(
                    ([f"missing fields {', '.join(missing)}"] if missing else [])
                    + ([f"unknown fields {', '.join(unknown)}"] if unknown else [])
                )
            )
        kwargs = {n: c.decode(lit[n], ctx, f"{where}, field '{n}'") for n, c in self.fields}
        try:
            return self.build(kwargs)
        except (TypeError, ValueError) as e:  # __post_init__ checks, pydantic validators
            raise TypeMismatchError(f"{where}: cannot construct {self.ref.name}: {e}") from e


class EnumCodec(Codec):
    """An enum travels as its member's value, as a string (the `TypeRef` lists them all)."""

    def __init__(self, cls: Any, ref: TypeRef) -> None:
        self.cls, self.ref = cls, ref
        self.members = {str(m.value): m for m in cls}

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        member = value
        if not isinstance(value, self.cls):
            try:
                member = None if strict else self.cls(value)
            except (ValueError, TypeError):
                member = None
            if member is None:
                raise mismatch(where, self.ref, value)
        return str(member.value)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if isinstance(lit, str) and lit in self.members:
            return self.members[lit]
        raise TypeMismatchError(
            f"{where}: expected one of {', '.join(self.ref.values)} ({self.ref}), got {str(lit)[:80]!r}"
        )


# ---------------------------------------------------------------------------------------------
# Values that live in the blob store
# ---------------------------------------------------------------------------------------------


class FileCodec(Codec):
    ref = TypeRef(TypeKind.FILE)

    def __init__(self, cls: type[File] = File) -> None:
        self.cls = cls  # File, or File["csv"]: what decoding builds

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, File):
            if strict or not isinstance(value, str | os.PathLike) or not os.path.isfile(value):
                raise mismatch(where, self.ref, value)
            value = File(value)
        return store_file(value, ctx, where)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not tagged(lit, "$file"):
            raise bad_literal(where, self.ref, lit)
        return load_file(lit["$file"], ctx, where, self.cls)


class DirectoryCodec(Codec):
    ref = TypeRef(TypeKind.DIRECTORY)

    def __init__(self, cls: type[Directory] = Directory) -> None:
        self.cls = cls

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not isinstance(value, Directory):
            if strict or not isinstance(value, str | os.PathLike) or not os.path.isdir(value):
                raise mismatch(where, self.ref, value)
            value = Directory(value)
        return store_directory(value, ctx, where)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not tagged(lit, "$dir"):
            raise bad_literal(where, self.ref, lit)
        return load_directory(lit["$dir"], ctx, where, self.cls)


class PickleCodec(Codec):
    """Opt-in escape hatch: any Python object, pickled into the blob store."""

    def __init__(self, cls: type | None, ref: TypeRef) -> None:
        self.cls, self.ref = cls, ref  # cls None: typing.Any

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if pickle_policy() == FORBID:
            raise UserError(forbidden_message(where))
        if self.cls is not None and not isinstance(value, self.cls):
            raise mismatch(where, self.ref, value)
        if ctx.workdir is None:  # only task attempts have one: clients never write pickles
            raise UserError(
                f"{where}: a pickled value is only ever produced by a task of the execution, never given "
                "as an input (see docs/flyte-data.md)"
            )
        blobs = ctx.need_blobs(where, "a pickled value")
        return ref_literal(blobs.put_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)), "pickle")

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not tagged(lit, "$ref") or parse_ref(lit, where)[1] != "pickle":
            raise bad_literal(where, self.ref, lit)
        ref, _ = parse_ref(lit, where)
        policy = pickle_policy()
        if policy == FORBID:
            raise UserError(forbidden_message(where))
        # Inside a task attempt (a work directory) the default policy unpickles what tasks of the
        # execution tree wrote (clients can never send a pickle); nowhere else, unless allowed.
        in_attempt = policy == CLASSES and ctx.workdir is not None
        if not (ctx.allow_pickle or policy == ALLOW or in_attempt):
            raise UserError(
                f"{where}: unpickling is disabled here because it can run arbitrary code; "
                "enable it only for data you trust (@task(unsafe_pickle=True))"
            )
        return pickle.loads(ctx.need_blobs(where, "a pickled value").get_bytes(ref))
