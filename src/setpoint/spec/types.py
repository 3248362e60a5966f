"""Type references: the language-neutral description of a task's inputs and outputs.

A `TypeRef` is what a spec stores for every input and output. It is pure data (JSON-serialisable,
hashable) so that the compiler can type-check wiring, the catalog can hash interfaces, and a spec
loaded from JSON can be validated without importing any user code. Converting Python values to and
from literals of these types lives in `setpoint.types`, which may use third-party libraries; this
module may not.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class TypeKind(enum.Enum):
    INT = "int"
    FLOAT = "float"
    STR = "str"
    BOOL = "bool"
    BYTES = "bytes"
    DATETIME = "datetime"
    TIMEDELTA = "timedelta"
    NONE = "none"
    LIST = "list"
    DICT = "dict"
    UNION = "union"
    STRUCT = "struct"
    ENUM = "enum"
    FILE = "file"
    DIRECTORY = "directory"
    DATAFRAME = "dataframe"
    PICKLE = "pickle"
    ANY = "any"


_SCALARS = frozenset(
    {
        TypeKind.INT,
        TypeKind.FLOAT,
        TypeKind.STR,
        TypeKind.BOOL,
        TypeKind.BYTES,
        TypeKind.DATETIME,
        TypeKind.TIMEDELTA,
        TypeKind.NONE,
        TypeKind.FILE,
        TypeKind.DIRECTORY,
        TypeKind.ANY,
    }
)


_KEY_SHOWN = {"": "str", "int": "int", "float": "float", "bool": "bool"}


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A type in the canonical data model.

    - LIST: ``args == (item,)``; DICT: ``args == (value,)``, and ``name`` the key type when it is
      not str ("int", "float", "bool", or an enum's qualified name; keys travel as text)
    - UNION: ``args`` are the variants (``Optional[T]`` is ``UNION(T, NONE)``)
    - STRUCT: ``name`` is the qualified class name, ``fields`` the typed fields in declaration order;
      ``variant`` says which Python flavour produced it ("dataclass" or "pydantic")
    - ENUM: ``name`` and the allowed ``values``
    - DATAFRAME: ``name`` is the flavour ("pandas" or "pyarrow")
    - PICKLE: ``name`` is the qualified class name (unsafe, explicit opt-in only)
    """

    kind: TypeKind
    args: tuple[TypeRef, ...] = ()
    name: str = ""
    fields: tuple[tuple[str, TypeRef], ...] = ()
    values: tuple[str, ...] = ()
    variant: str = ""
    _json: dict[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)

    # -- constructors -------------------------------------------------------------------------
    @staticmethod
    def scalar(kind: TypeKind) -> TypeRef:
        if kind not in _SCALARS:
            raise ValueError(f"{kind.value} is not a scalar type kind")
        return TypeRef(kind)

    @staticmethod
    def list_of(item: TypeRef) -> TypeRef:
        return TypeRef(TypeKind.LIST, (item,))

    @staticmethod
    def dict_of(value: TypeRef) -> TypeRef:
        return TypeRef(TypeKind.DICT, (value,))

    @staticmethod
    def union(*variants: TypeRef) -> TypeRef:
        flat: list[TypeRef] = []
        for v in variants:
            for w in v.args if v.kind is TypeKind.UNION else (v,):
                if w not in flat:
                    flat.append(w)
        if len(flat) == 1:
            return flat[0]
        return TypeRef(TypeKind.UNION, tuple(flat))

    @staticmethod
    def optional(inner: TypeRef) -> TypeRef:
        return TypeRef.union(inner, TypeRef(TypeKind.NONE))

    # -- queries ------------------------------------------------------------------------------
    @property
    def is_optional(self) -> bool:
        return self.kind is TypeKind.NONE or (
            self.kind is TypeKind.UNION and any(a.kind is TypeKind.NONE for a in self.args)
        )

    def __str__(self) -> str:
        k = self.kind
        if k is TypeKind.LIST:
            return f"list[{self.args[0]}]"
        if k is TypeKind.DICT:
            return f"dict[{_KEY_SHOWN.get(self.name, self.name.rsplit('.', 1)[-1]) or 'str'}, {self.args[0]}]"
        if k is TypeKind.UNION:
            non_none = [a for a in self.args if a.kind is not TypeKind.NONE]
            if len(non_none) == 1 and len(self.args) == 2:
                return f"Optional[{non_none[0]}]"
            return " | ".join(str(a) for a in self.args)
        if k in (TypeKind.STRUCT, TypeKind.ENUM, TypeKind.PICKLE):
            return self.name.rsplit(".", 1)[-1] or k.value
        if k is TypeKind.DATAFRAME:
            return f"dataframe[{self.name}]" if self.name else "dataframe"
        if k is TypeKind.NONE:
            return "None"
        return str(k.value)

    # -- serialisation ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        if self._json is not None:
            return self._json
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.args:
            out["args"] = [a.to_json() for a in self.args]
        if self.name:
            out["name"] = self.name
        if self.fields:
            out["fields"] = [[n, t.to_json()] for n, t in self.fields]
        if self.values:
            out["values"] = list(self.values)
        if self.variant:
            out["variant"] = self.variant
        object.__setattr__(self, "_json", out)
        return out

    @staticmethod
    def from_json(data: Any, where: str = "type") -> TypeRef:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: a type must be an object, got {type(data).__name__}")
        try:
            kind = TypeKind(data.get("kind"))
        except ValueError:
            raise ValueError(f"{where}: unknown type kind {data.get('kind')!r}") from None
        args = tuple(TypeRef.from_json(a, f"{where}.args[{i}]") for i, a in enumerate(data.get("args", ())))
        fields_raw = data.get("fields", ())
        fields: list[tuple[str, TypeRef]] = []
        for i, pair in enumerate(fields_raw):
            if not (isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(f"{where}.fields[{i}]: expected [name, type]")
            fields.append((pair[0], TypeRef.from_json(pair[1], f"{where}.fields.{pair[0]}")))
        expected_args = {TypeKind.LIST: 1, TypeKind.DICT: 1}
        if kind in expected_args and len(args) != expected_args[kind]:
            raise ValueError(f"{where}: {kind.value} takes exactly one type argument")
        if kind is TypeKind.UNION and len(args) < 2:
            raise ValueError(f"{where}: a union needs at least two variants")
        return TypeRef(
            kind,
            args,
            str(data.get("name", "")),
            tuple(fields),
            tuple(str(v) for v in data.get("values", ())),
            str(data.get("variant", "")),
        )


def is_assignable(source: TypeRef, target: TypeRef) -> bool:
    """Can a value of type ``source`` be bound to an input of type ``target``?

    Exact matches are always fine. Widening that loses nothing is allowed: ``int`` into ``float``,
    any variant into a union that contains it, ``T`` into ``Optional[T]``, and anything into
    ``ANY``. Collections are covariant (their values are immutable literals). Every dataframe kind
    feeds every other (pandas, pyarrow and `StructuredDataset` tables share one Parquet literal).
    """
    if source == target or target.kind is TypeKind.ANY or source.kind is TypeKind.ANY:
        return True
    if target.kind is TypeKind.UNION:
        if source.kind is TypeKind.UNION:
            return all(any(is_assignable(s, t) for t in target.args) for s in source.args)
        return any(is_assignable(source, t) for t in target.args)
    if source.kind is TypeKind.INT and target.kind is TypeKind.FLOAT:
        return True
    if source.kind is target.kind is TypeKind.DATAFRAME:
        return True
    if source.kind is target.kind is TypeKind.DICT and source.name != target.name:
        return False  # dict[int, T] is not dict[str, T]
    if source.kind is target.kind and source.kind in (TypeKind.LIST, TypeKind.DICT):
        return is_assignable(source.args[0], target.args[0])
    if source.kind is target.kind is TypeKind.STRUCT:
        return source.name == target.name and source.fields == target.fields
    return False


INT = TypeRef(TypeKind.INT)
FLOAT = TypeRef(TypeKind.FLOAT)
STR = TypeRef(TypeKind.STR)
BOOL = TypeRef(TypeKind.BOOL)
NONE = TypeRef(TypeKind.NONE)
