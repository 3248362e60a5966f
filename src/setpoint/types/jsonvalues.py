"""Literals typed only by a `TypeRef`: user-supplied JSON, CLI arguments, and structural checks.

The CLI, the API server and the controller handle values without the task's Python classes (they
never import user code), so they cannot use the codecs. These functions work from the spec's
`TypeRef` alone: they turn plain JSON (``--x '[1, 2]'``, ``--inputs file.json``) into the literal
encoding, and they check that an already-encoded literal has the shape its type requires.

Literal forms (``{"$datetime": ...}``, ``{"$ref": ...}``, ``{"$variant": ...}``) are accepted in
plain JSON too, so outputs of one execution can be fed to another as they are. Plain JSON is data,
though: keys of a ``dict[str, T]`` value starting with ``$`` are user keys and get escaped.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from typing import Any

from setpoint.errors import InputError, TypeMismatchError
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.types.codecs import HASHED, encode_datetime, encode_float, unhash
from setpoint.types.context import (
    JSON,
    escape_key,
    json_kind,
    parse_blob_ref,
    parse_ref,
    tagged,
)

_PICKLE_REFUSED = (
    "{where}: a pickled value cannot be given as an input: unpickling runs code, so only a task of "
    "the same execution may produce one (see docs/flyte-data.md)"
)
_NON_FINITE_TEXT = {"nan": "nan", "inf": "inf", "-inf": "-inf", "infinity": "inf", "-infinity": "-inf"}
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _optional_inner(t: TypeRef) -> TypeRef | None:
    if t.kind is TypeKind.UNION and len(t.args) == 2:
        inner = [a for a in t.args if a.kind is not TypeKind.NONE]
        if len(inner) == 1:
            return inner[0]
    return None


# ---------------------------------------------------------------------------------------------
# Structural validation of encoded literals
# ---------------------------------------------------------------------------------------------


def validate_literal(lit: JSON, t: TypeRef, *, where: str) -> None:
    """Check that ``lit`` is a well-formed literal of type ``t`` (`TypeMismatchError` if not).

    A ``$ref`` is accepted wherever a value is expected (its content is not fetched); dataframes
    must be references of their own format. This checks values given by clients, so a pickled
    value is refused wherever it sits (only tasks write pickles: see `setpoint.types.pickling`),
    and so is a ``$hashed`` wrapper (only a task's `HashMethod` writes one); use `strip_hashes`
    first to accept values copied from another execution's outputs.
    """
    k = t.kind
    if tagged(lit, HASHED):
        raise TypeMismatchError(f"{where}: a {HASHED} value is written by tasks only; give the value itself")
    if tagged(lit, "$ref"):
        fmt = parse_ref(lit, where)[1]
        if fmt == "pickle":
            raise TypeMismatchError(_PICKLE_REFUSED.format(where=where))
        wanted = {TypeKind.DATAFRAME: "parquet", TypeKind.PICKLE: "pickle"}.get(k, "json")
        if fmt not in (wanted, "json"):
            raise TypeMismatchError(f"{where}: expected {t}, got a reference to {fmt} data")
        return
    ok: bool
    if k is TypeKind.ANY:
        return
    if k is TypeKind.INT:
        ok = _is_int(lit)
    elif k is TypeKind.FLOAT:
        ok = _is_number(lit) or (tagged(lit, "$float") and lit["$float"] in ("nan", "inf", "-inf"))
    elif k is TypeKind.STR:
        ok = isinstance(lit, str)
    elif k is TypeKind.BOOL:
        ok = isinstance(lit, bool)
    elif k is TypeKind.NONE:
        ok = lit is None
    elif k is TypeKind.BYTES:
        ok = tagged(lit, "$bytes") and _valid_base64(lit["$bytes"])
    elif k is TypeKind.DATETIME:
        ok = tagged(lit, "$datetime") and _parse_datetime(lit["$datetime"]) is not None
    elif k is TypeKind.TIMEDELTA:
        ok = tagged(lit, "$timedelta") and _is_int(lit["$timedelta"])
    elif k is TypeKind.LIST:
        ok = isinstance(lit, list)
        if ok:
            for i, v in enumerate(lit):
                validate_literal(v, t.args[0], where=f"{where}, item {i}")
    elif k is TypeKind.DICT:
        ok = isinstance(lit, dict) and not any(str(key).startswith("$") and key[:2] != "$$" for key in lit)
        if ok:
            for key, v in lit.items():
                validate_literal(v, t.args[0], where=f"{where}, key {key!r}")
    elif k is TypeKind.UNION:
        inner = _optional_inner(t)
        if inner is not None:
            if lit is not None:
                validate_literal(lit, inner, where=where)
            return
        index: Any = lit.get("$variant") if isinstance(lit, dict) and set(lit) == {"$variant", "value"} else None
        ok = _is_int(index) and 0 <= index < len(t.args)
        if ok:
            validate_literal(lit["value"], t.args[index], where=where)
    elif k is TypeKind.STRUCT:
        ok = isinstance(lit, dict)
        if ok:
            _check_fields(lit, t, where, TypeMismatchError)
            for name, ft in t.fields:
                validate_literal(lit[name], ft, where=f"{where}, field '{name}'")
    elif k is TypeKind.ENUM:
        if not (isinstance(lit, str) and lit in t.values):
            raise TypeMismatchError(f"{where}: expected one of {', '.join(t.values)} ({t}), got {json_kind(lit)}")
        return
    elif k in (TypeKind.FILE, TypeKind.DIRECTORY):
        tag = "$file" if k is TypeKind.FILE else "$dir"
        ok = tagged(lit, tag)
        if ok:
            parse_blob_ref(lit[tag], where, extra="name")
    else:  # DATAFRAME and PICKLE are only ever references, handled above
        ok = False
    if not ok:
        raise TypeMismatchError(f"{where}: expected a literal of type {t}, got {json_kind(lit)}")


def _check_fields(obj: dict[str, Any], t: TypeRef, where: str, error: type[Exception]) -> None:
    names = [n for n, _ in t.fields]
    missing = [n for n in names if n not in obj]
    unknown = sorted(str(k) for k in obj if k not in names)
    if missing or unknown:
        problems = ([f"missing fields {', '.join(missing)}"] if missing else []) + (
            [f"unknown fields {', '.join(unknown)}"] if unknown else []
        )
        raise error(f"{where}: value does not match {t}: {'; '.join(problems)}")


def _valid_base64(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _parse_datetime(text: object) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Plain JSON -> literal
# ---------------------------------------------------------------------------------------------


def literal_from_json_value(value: JSON, t: TypeRef, *, where: str) -> JSON:
    """Convert plain JSON (typed by ``t`` only) to the literal encoding; `InputError` if it does not fit.

    The value comes from a client: a ``$hashed`` wrapper (an output copied from another execution)
    is dropped, keeping the value, and a pickled value is refused.
    """
    try:
        value = strip_hashes(value, where)
    except TypeMismatchError as e:
        raise InputError(str(e)) from None
    return _convert(value, t, where, strict=False)


def strip_hashes(lit: JSON, where: str) -> JSON:
    """``lit`` with every ``$hashed`` wrapper replaced by the value inside (values from clients)."""
    if isinstance(lit, list):
        return [strip_hashes(v, where) for v in lit]
    if isinstance(lit, dict):
        if tagged(lit, HASHED):
            return strip_hashes(unhash(lit, where), where)
        return {k: strip_hashes(v, where) for k, v in lit.items()}
    return lit


def _fail(where: str, t: TypeRef, value: object, hint: str = "") -> InputError:
    return InputError(f"{where}: expected {t}, got {json_kind(value)}{hint}")


def _convert(value: JSON, t: TypeRef, where: str, strict: bool) -> JSON:
    k = t.kind
    if tagged(value, "$ref"):
        try:
            validate_literal(value, t, where=where)
        except TypeMismatchError as e:
            raise InputError(str(e)) from None
        return value
    if k is TypeKind.DATAFRAME and isinstance(value, dict) and set(value) >= {"uri", "sha256", "size"}:
        ref = {"uri": value["uri"], "sha256": value["sha256"], "size": value["size"], "format": "parquet"}
        return _convert({"$ref": ref}, t, where, strict)  # the plain form `outputs` prints
    if (
        k in (TypeKind.FILE, TypeKind.DIRECTORY)
        and isinstance(value, dict)
        and set(value)
        == {
            "uri",
            "sha256",
            "size",
            "name",
        }
    ):
        return _convert({"$file" if k is TypeKind.FILE else "$dir": value}, t, where, strict)
    if k is TypeKind.ANY:
        return value
    if k is TypeKind.INT and _is_int(value):
        return value
    if k is TypeKind.FLOAT:
        if isinstance(value, float) or (not strict and _is_int(value)):
            return encode_float(float(value))
        text = value.get("$float") if tagged(value, "$float") else value
        if isinstance(text, str) and text.lower() in _NON_FINITE_TEXT:
            return {"$float": _NON_FINITE_TEXT[text.lower()]}
    if (k is TypeKind.STR and isinstance(value, str)) or (k is TypeKind.BOOL and isinstance(value, bool)):
        return value
    if k is TypeKind.NONE and value is None:
        return None
    if k is TypeKind.BYTES:
        text = value.get("$bytes") if tagged(value, "$bytes") else value
        if _valid_base64(text):
            return {"$bytes": text}
        raise _fail(where, t, value, " (give bytes as a base64 string)")
    if k is TypeKind.DATETIME:
        parsed = _parse_datetime(value.get("$datetime") if tagged(value, "$datetime") else value)
        if parsed is not None:
            return {"$datetime": encode_datetime(parsed)}
        raise _fail(where, t, value, " (give an ISO 8601 string, e.g. 2024-05-01T12:00:00+00:00)")
    if k is TypeKind.TIMEDELTA:
        if tagged(value, "$timedelta") and _is_int(value["$timedelta"]):
            return value
        if _is_number(value) and math.isfinite(value):
            micros = value * 1_000_000 if _is_int(value) else round(value * 1_000_000)
            return {"$timedelta": micros}
        raise _fail(where, t, value, " (give a number of seconds)")
    if k is TypeKind.LIST and isinstance(value, list):
        return [_convert(v, t.args[0], f"{where}, item {i}", strict) for i, v in enumerate(value)]
    if k is TypeKind.DICT and isinstance(value, dict):
        return {escape_key(key): _convert(v, t.args[0], f"{where}, key {key!r}", strict) for key, v in value.items()}
    if k is TypeKind.UNION:
        return _convert_union(value, t, where, strict)
    if k is TypeKind.STRUCT and isinstance(value, dict):
        _check_fields(value, t, where, InputError)
        return {n: _convert(value[n], ft, f"{where}, field '{n}'", strict) for n, ft in t.fields}
    if k is TypeKind.ENUM:
        text = value if isinstance(value, str) else json.dumps(value) if _is_number(value) else None
        if text is not None and text in t.values:
            return text
        raise InputError(f"{where}: expected one of {', '.join(t.values)} ({t}), got {json_kind(value)}")
    if k in (TypeKind.FILE, TypeKind.DIRECTORY):
        tag = "$file" if k is TypeKind.FILE else "$dir"
        if tagged(value, tag):
            try:
                parse_blob_ref(value[tag], where, extra="name")
            except TypeMismatchError as e:
                raise InputError(str(e)) from None
            return value
        raise _fail(where, t, value, f" (a {{{tag!r}: ...}} reference; upload local paths to the blob store first)")
    raise _fail(where, t, value)


def _convert_union(value: JSON, t: TypeRef, where: str, strict: bool) -> JSON:
    inner = _optional_inner(t)
    if inner is not None:
        return None if value is None else _convert(value, inner, where, strict)
    if isinstance(value, dict) and set(value) == {"$variant", "value"}:
        i = value["$variant"]
        if _is_int(i) and 0 <= i < len(t.args):
            return {"$variant": i, "value": _convert(value["value"], t.args[i], where, strict)}
    for exact in (True,) if strict else (True, False):
        for i, variant in enumerate(t.args):
            try:
                return {"$variant": i, "value": _convert(value, variant, where, exact)}
            except InputError:
                continue
    raise _fail(where, t, value)


# ---------------------------------------------------------------------------------------------
# Command-line text -> literal
# ---------------------------------------------------------------------------------------------


def parse_cli_value(text: str, t: TypeRef, *, where: str) -> JSON:
    """Parse one ``--name value`` argument: scalars as themselves, everything else as JSON."""
    k = t.kind
    s = text.strip()
    if k is TypeKind.STR:
        return text
    try:
        if k is TypeKind.INT:
            return int(s)
        if k is TypeKind.FLOAT:
            return encode_float(float(s))
        if k is TypeKind.TIMEDELTA:
            return literal_from_json_value(float(s) if "." in s or "e" in s.lower() else int(s), t, where=where)
    except ValueError:
        raise InputError(f"{where}: expected {t}, got {text[:200]!r}") from None
    if k is TypeKind.BOOL:
        if s.lower() in _TRUE | _FALSE:
            return s.lower() in _TRUE
        raise InputError(f"{where}: expected bool (true/false, yes/no, 1/0), got {text[:200]!r}")
    if k in (TypeKind.DATETIME, TypeKind.BYTES, TypeKind.ENUM) and not s.startswith(("{", '"')):
        return literal_from_json_value(s, t, where=where)
    inner = _optional_inner(t)
    if inner is not None:
        return None if s == "null" else parse_cli_value(text, inner, where=where)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        if k is TypeKind.UNION and TypeRef(TypeKind.STR) in t.args:
            return {"$variant": t.args.index(TypeRef(TypeKind.STR)), "value": text}
        raise InputError(f"{where}: expected {t} as JSON, got {text[:200]!r} ({e.msg})") from None
    return literal_from_json_value(value, t, where=where)
