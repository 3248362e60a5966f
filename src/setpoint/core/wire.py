"""Records as JSON, derived from their dataclass fields: each record's form is written once.

Every record setpoint keeps or shows (an execution, node, attempt, event, catalog entry, registered
entity, a lineage tree) is a frozen dataclass. Its JSON form is not written out by hand anywhere:
`Forms` reads the dataclass's fields and their declared types once and turns records into JSON
objects and back — enums as their values, datetimes as ISO 8601 text, nested records as objects,
tuples and lists as arrays, ``Any`` (literal JSON) left exactly as it is. A `Form` names the few
ways a record's JSON differs from its fields (a key renamed, an internal field left out, a
read-only property shown). The store's rows (`setpoint.adapters.store.codec`), the API's schema and
bodies, the remote client and the CLI's ``--output json`` all derive from it, so adding a field to
a record is one edit (plus a migration for the store's column) and no copy can drift.

Decoding is driven by the declared types, so a field whose type becomes an enum or a nested
dataclass needs no special case here. A key that is missing takes the field's default (old rows
and old servers stay readable); a key that is not a field is ignored.

Pure standard library: the store adapters use it as well as the server and the clients.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import types
import typing
from collections import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    Event,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)

T = TypeVar("T")
Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Form:
    """How one record's JSON differs from its dataclass fields (by default: not at all)."""

    rename: Mapping[str, str] = field(default_factory=dict)  # field name -> JSON key
    omit: tuple[str, ...] = ()  # fields kept off the wire; decoding takes their default or `fill`
    fill: Mapping[str, Callable[[], Any]] = field(default_factory=dict)  # omitted fields without a default
    computed: tuple[str, ...] = ()  # read-only properties shown on encode, ignored on decode
    flatten: str | None = None  # a nested record field whose keys are merged into this object


@dataclass(frozen=True, slots=True)
class WireField:
    """One key of a record's JSON: what schema generation needs."""

    key: str
    name: str  # the dataclass field (or property) it comes from
    type: Any  # the declared type (resolved)
    computed: bool = False


@dataclass(frozen=True, slots=True)
class _Compiled:
    encode: Callable[[Any], dict[str, Any]]
    decode: Callable[[Mapping[str, Any]], dict[str, Any]]  # JSON -> the constructor's keyword arguments


class Forms:
    """A set of record forms (type -> `Form`; unnamed types use their plain fields) and their codecs."""

    def __init__(self, forms: Mapping[type, Form] | None = None, *, json_text: bool = False) -> None:
        self.forms: dict[type, Form] = dict(forms or {})
        # Rows keep structured fields (objects, arrays, nested records) as JSON text: decode parses them.
        self.json_text = json_text
        self._compiled: dict[type, _Compiled] = {}

    def extend(self, more: Mapping[type, Form]) -> Forms:
        return Forms({**self.forms, **more}, json_text=self.json_text)

    def form(self, cls: type) -> Form:
        return self.forms.get(cls) or Form()

    # -- the two directions ----------------------------------------------------------------------
    def encode(self, record: Any) -> dict[str, Any]:
        """The JSON object of ``record`` (a dataclass instance)."""
        return self._compile(type(record)).encode(record)

    def decode(self, cls: type[T], data: Mapping[str, Any], **given: Any) -> T:
        """The record of type ``cls`` whose JSON is ``data``; ``given`` supplies omitted fields.

        A missing key takes the field's default; a missing key with no default is a `KeyError`.
        """
        kwargs = self._compile(cls).decode(data)
        if given:
            kwargs.update(given)
        return cls(**kwargs)

    def fields(self, cls: type) -> list[WireField]:
        """The keys of ``cls``'s JSON in order, with the types they carry (for generated schemas)."""
        form = self.form(cls)
        hints = typing.get_type_hints(cls)
        out: list[WireField] = []
        for f in dataclasses.fields(cls):
            if f.name in form.omit:
                continue
            if f.name == form.flatten:
                out += self.fields(hints[f.name])
                continue
            out.append(WireField(form.rename.get(f.name, f.name), f.name, hints[f.name]))
        for name in form.computed:
            prop = getattr(cls, name)
            ret = typing.get_type_hints(prop.fget).get("return", Any) if isinstance(prop, property) else Any
            out.append(WireField(form.rename.get(name, name), name, ret, computed=True))
        return out

    # -- compiled per class, once ------------------------------------------------------------------
    def _compile(self, cls: type) -> _Compiled:
        """Generate ``cls``'s encode and decode functions once (records are read by the thousand).

        The functions are written out as Python source, one line per field, the way `dataclasses`
        writes ``__init__``: a loop over field descriptions costs twice as much on every row.
        """
        got = self._compiled.get(cls)
        if got is not None:
            return got
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass record")
        form = self.form(cls)
        hints = typing.get_type_hints(cls)
        env: dict[str, Any] = {"_self": self, "_MISSING": dataclasses.MISSING}
        enc = ["def encode(r):", "    out = {}"]
        dec = ["def decode(d):", "    kw = {}"]
        for i, f in enumerate(dataclasses.fields(cls)):
            if f.name in form.omit:
                continue
            tp = hints[f.name]
            if f.name == form.flatten:
                env["_flat"] = tp
                enc.append(f"    out.update(_self.encode(r.{f.name}))")
                dec.append(f"    kw[{f.name!r}] = _self.decode(_flat, d)")
                continue
            key = form.rename.get(f.name, f.name)
            to_json, from_json = self._encoder(tp), self._decoder(tp)
            if self.json_text and is_structured(tp):
                from_json = _parsed(from_json)
            env[f"_e{i}"], env[f"_d{i}"] = to_json, from_json
            value = f"r.{f.name}"
            enc.append(f"    out[{key!r}] = {value}" if to_json is None else f"    v = {value}")
            if to_json is not None:
                enc.append(f"    out[{key!r}] = v if v is None else _e{i}(v)")
            # A row has every column (a new field comes with its migration), and ``sqlite3.Row`` has no
            # ``get``: in rows every key is looked up directly.
            no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            required = no_default or self.json_text
            get = f"d[{key!r}]" if required else f"d.get({key!r}, _MISSING)"
            dec.append(f"    v = {get}")
            assign = "v" if from_json is None else f"v if v is None else _d{i}(v)"
            if required:
                dec.append(f"    kw[{f.name!r}] = {assign}")
            else:
                dec.append(f"    if v is not _MISSING: kw[{f.name!r}] = {assign}")
        for i, name in enumerate(form.computed):
            prop = getattr(cls, name)
            ret = typing.get_type_hints(prop.fget).get("return", Any) if isinstance(prop, property) else Any
            env[f"_c{i}"] = self._encoder(ret) or _same
            enc.append(f"    v = r.{name}")
            enc.append(f"    out[{form.rename.get(name, name)!r}] = v if v is None else _c{i}(v)")
        for i, (name, factory) in enumerate(form.fill.items()):
            env[f"_f{i}"] = factory
            dec.append(f"    kw[{name!r}] = _f{i}()")
        enc.append("    return out")
        dec.append("    return kw")
        exec("\n".join(enc) + "\n\n" + "\n".join(dec), env)
        compiled = _Compiled(env["encode"], env["decode"])
        self._compiled[cls] = compiled
        return compiled

    def _encoder(self, tp: Any) -> Convert | None:
        """How to turn a value of declared type ``tp`` into JSON (None: it already is)."""
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            return self._encoder(args[0]) if len(args) == 1 else _plain
        if origin in (tuple, list) or (origin is not None and _is_sequence(origin)):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            item = self._encoder(args[0]) if len(set(args)) == 1 else _plain
            if item is None:
                return list
            each: Convert = item
            return lambda v: [None if x is None else each(x) for x in v]
        if origin in (dict,) or (origin is not None and _is_mapping(origin)):
            kv = typing.get_args(tp)
            value = self._encoder(kv[1]) if len(kv) == 2 else None
            if value is None:
                return None
            each_value: Convert = value
            return lambda v: {k: None if x is None else each_value(x) for k, x in v.items()}
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return _enum_value
            if dataclasses.is_dataclass(tp):
                return self.encode
            if issubclass(tp, (dt.datetime, dt.date)):
                return _iso
        return None

    def _decoder(self, tp: Any) -> Convert | None:
        """How to rebuild a value of declared type ``tp`` from JSON (None: keep it as it is)."""
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            return self._decoder(args[0]) if len(args) == 1 else None
        if origin is tuple or origin is list or (origin is not None and _is_sequence(origin)):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            item = self._decoder(args[0]) if len(set(args)) == 1 else None
            make: Convert = tuple if origin is tuple else list
            if item is None:
                return make
            each: Convert = item
            return lambda v: make(None if x is None else each(x) for x in v)
        if origin is dict or (origin is not None and _is_mapping(origin)):
            kv = typing.get_args(tp)
            value = self._decoder(kv[1]) if len(kv) == 2 else None
            if value is None:
                return None
            each_value: Convert = value
            return lambda v: {k: None if x is None else each_value(x) for k, x in v.items()}
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return tp
            if dataclasses.is_dataclass(tp):
                cls = tp
                return lambda v: self.decode(cls, v)
            if tp is bool:
                return bool
            if tp is int:
                return int
            if tp is float:
                return float
            if tp is dt.datetime:
                return dt.datetime.fromisoformat
            if tp is dt.date:
                return dt.date.fromisoformat
        return None


def _is_sequence(origin: Any) -> bool:
    return isinstance(origin, type) and issubclass(origin, abc.Sequence) and not issubclass(origin, str)


def _is_mapping(origin: Any) -> bool:
    return isinstance(origin, type) and issubclass(origin, abc.Mapping)


def is_structured(tp: Any) -> bool:
    """Whether values of declared type ``tp`` are JSON objects or arrays (not scalars) on the wire."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(is_structured(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is not None:
        return origin is not typing.Literal
    return tp is Any or dataclasses.is_dataclass(tp)


def _parsed(then: Convert | None) -> Convert:
    if then is None:
        return json.loads
    after: Convert = then
    return lambda text: after(json.loads(text))


def _same(v: Any) -> Any:
    return v


def _enum_value(v: Any) -> Any:
    # A field being turned from a string into an enum may still be given its plain string somewhere.
    if isinstance(v, str) and not isinstance(v, enum.Enum):
        return v
    return v.value


def _iso(v: dt.date) -> str:
    return v.isoformat()


def _plain(v: Any) -> Any:
    """A value of an undeclared shape as JSON, by what it is at run time (unions of several types)."""
    if isinstance(v, enum.Enum):
        return v.value
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v


# -- the core records' forms -------------------------------------------------------------------------

# What a record looks like on the wire (the API, the remote client, the CLI): lease and version
# columns are the store's bookkeeping; an event is read within its execution; a catalog entry's
# outputs stay on the server (listing and evicting never need them).
WIRE = Forms(
    {
        ExecutionRecord: Form(omit=("version", "lease_owner", "lease_expires_at")),
        NodeRecord: Form(omit=("version",)),
        AttemptRecord: Form(omit=("version",), computed=("id",)),
        Event: Form(omit=("execution_id",), rename={"node_id": "node"}),
        CatalogEntry: Form(omit=("outputs",), fill={"outputs": dict}),
        LineageRow: Form(rename={"execution_id": "execution", "node_id": "node"}),
    }
)

# What a record looks like in the store: every field under its own name (the column), structured
# fields as JSON text.
ROWS = Forms(json_text=True)
