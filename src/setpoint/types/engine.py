"""The type engine: from Python annotations to setpoint types, and from functions to interfaces.

A task's signature is its contract. This module reads it once, when a task is declared, and
either produces the language-neutral `TypeRef`s the spec stores or refuses with a message that
says which input is the problem and what to write instead. Refusing early is the point: a type
that cannot be represented would otherwise fail half-way through a run, after upstream work.

The same inspection builds the codecs that convert values (`setpoint.types.codecs`); both are
cached per Python type, so converting many values of one type inspects it once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import sys
import types
import typing
import warnings
from collections import abc
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from setpoint.errors import BlobError, SpecError, TypeMismatchError, UnsupportedTypeError, UserError
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.spec.workflow import Interface, Variable, check_name
from setpoint.types import codecs as c
from setpoint.types.context import LiteralContext, describe
from setpoint.types.dataframes import DataFrameCodec, dataframe_flavour
from setpoint.types.files import Directory, File
from setpoint.types.hashing import HashedCodec, hash_method_of
from setpoint.types.pickling import ALLOW, CLASSES, ENV, FORBID, BatchSize, BatchSizeWarning, pickle_policy
from setpoint.types.structured import StructuredDatasetCodec, columns_of, is_structured_dataset

_SCALARS: dict[object, Callable[[], c.Codec]] = {
    int: c.IntCodec,
    float: c.FloatCodec,
    str: c.StrCodec,
    bool: c.BoolCodec,
    bytes: c.BytesCodec,
    dt.datetime: c.DatetimeCodec,
    dt.timedelta: c.TimedeltaCodec,
    None: c.NoneCodec,
    type(None): c.NoneCodec,
}

PICKLE_HINT = "opt in to pickling with @task(unsafe_pickle=True)"
_DEFAULT_ADVICE = f"use a dataclass or a pydantic model, or {PICKLE_HINT}"
_ADVICE: dict[object, str] = {
    tuple: "use list[T] or a dataclass (to return several outputs, return a typing.NamedTuple)",
    set: "use list[T]",
    frozenset: "use list[T]",
    Any: f"declare a concrete type, or {PICKLE_HINT}",
    dt.date: "use datetime.datetime",
}

# Keyed by the type *and* its repr: ``int | bool == bool | int`` in Python, but the variant order
# is part of the encoding, so equal-but-reordered unions must not share a codec.
_cache: dict[tuple[object, str, bool, str], c.Codec] = {}


def type_name(t: object) -> str:
    if isinstance(t, type):
        return t.__qualname__
    return repr(t).replace("typing.", "")


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def codec_for(py_type: object, *, where: str, allow_pickle: bool = False) -> c.Codec:
    """The codec for a Python type (cached); `UnsupportedTypeError` naming ``where`` if none.

    ``allow_pickle`` is the task's opt-in; the deployment's policy (`setpoint.types.pickling`)
    can allow pickling for every task, or forbid it whatever the task says.
    """
    policy = pickle_policy()
    allow_pickle = policy == ALLOW or (allow_pickle and policy != FORBID)
    key = (py_type, repr(py_type), allow_pickle, policy)
    try:
        hit = _cache.get(key)
    except TypeError:  # unhashable metadata in Annotated[...]: just do not cache
        return _Builder(where, allow_pickle).build(py_type, where)
    if hit is None:
        hit = _Builder(where, allow_pickle).build(py_type, where)
        _cache[key] = hit
    return hit


def type_ref(py_type: object, *, where: str, allow_pickle: bool = False) -> TypeRef:
    """The setpoint type of a Python annotation, or `UnsupportedTypeError` saying what to do."""
    return codec_for(py_type, where=where, allow_pickle=allow_pickle).ref


class _Builder:
    def __init__(self, where: str, allow_pickle: bool) -> None:
        self.where = where
        self.allow_pickle = allow_pickle
        self.in_progress: set[type] = set()

    def unsupported(self, t: object, where: str) -> c.Codec:
        origin = get_origin(t)
        base = t if isinstance(t, type) else origin if isinstance(origin, type) else None
        if self.allow_pickle and (base is not None or t is Any):
            name = "typing.Any" if base is None else qualified_name(base)
            return c.PickleCodec(base, TypeRef(TypeKind.PICKLE, name=name))
        if isinstance(t, type) and t not in _ADVICE and pickle_policy() == CLASSES:
            # a plain class with no literal form (a fitted model, a user's own class) travels pickled
            # by default, as in flytekit; only tasks of the execution tree ever write such a value
            return c.PickleCodec(t, TypeRef(TypeKind.PICKLE, name=qualified_name(t)))
        advice = _ADVICE.get(t, _ADVICE.get(origin, _DEFAULT_ADVICE))
        if pickle_policy() == FORBID:
            advice = advice.replace(f", or {PICKLE_HINT}", "") + f" (pickled values are forbidden here: {ENV}=forbid)"
        raise UnsupportedTypeError(
            f"{where}: type {type_name(t)} cannot be represented as a setpoint literal; {advice}"
        )

    def build(self, t: object, where: str) -> c.Codec:
        origin, args = get_origin(t), get_args(t)
        if origin is Annotated:
            return self.annotated(args[0], tuple(t.__metadata__), where)  # type: ignore[attr-defined]
        if isinstance(t, typing.NewType):
            return self.build(t.__supertype__, where)
        if isinstance(t, str | typing.ForwardRef | typing.TypeVar):
            raise UnsupportedTypeError(
                f"{where}: type {t!r} is not resolved; import it at module level so annotations can be evaluated"
            )
        try:
            scalar = _SCALARS.get(t)
        except TypeError:  # an unhashable typing construct: not a scalar
            scalar = None
        if scalar is not None:
            return scalar()
        if origin is Union or origin is types.UnionType:
            return self.union(args, where)
        if t is list or (origin is list and not args):  # a bare list: JSON-like items
            return c.ListCodec(c.JsonCodec())
        if t is dict or (origin is dict and not args):  # a bare dict: JSON-like values under str keys
            return c.DictCodec(c.JsonCodec())
        if origin is list and len(args) == 1:
            return c.ListCodec(self.build(args[0], where))
        if origin in (abc.Iterator, abc.Generator) and args:  # what it yields travels as a list
            return c.IteratorCodec(self.build(args[0], where))
        if origin is dict and len(args) == 2:
            if args[0] is not str:
                return self.keyed_dict(t, args, where)
            return c.DictCodec(self.build(args[1], where))
        if isinstance(t, type):
            return self.from_class(t, where)
        return self.unsupported(t, where)

    def annotated(self, t: object, metadata: tuple[Any, ...], where: str) -> c.Codec:
        """``Annotated[T, ...]``: columns (``kwtypes``) for tables, a `HashMethod`; the rest is ignored."""
        columns = columns_of(metadata)
        inner: c.Codec | None = None
        if columns is not None:
            if is_structured_dataset(t):
                inner = StructuredDatasetCodec(columns)
            elif (flavour := dataframe_flavour(t)) is not None:
                inner = DataFrameCodec(flavour, columns)
        if inner is None:
            inner = self.build(t, where)
        for m in metadata:
            if isinstance(m, BatchSize):
                warnings.warn(
                    f"{where}: {m!r} is accepted and not used: setpoint stores each pickled item as its own "
                    "content-addressed blob",
                    BatchSizeWarning,
                    stacklevel=2,
                )
        method = hash_method_of(metadata)
        return HashedCodec(inner, method) if method is not None else inner

    def keyed_dict(self, t: object, args: tuple[Any, ...], where: str) -> c.Codec:
        key = self.build(args[0], f"{where}, key") if _is_key_type(args[0]) else None
        if key is None:
            if self.allow_pickle:
                return self.unsupported(t, where)
            raise UnsupportedTypeError(
                f"{where}: type {type_name(t)} cannot be represented as a setpoint literal; "
                "dict keys must be str, int, float, bool or an enum (or use a list of dataclasses)"
            )
        return c.KeyedDictCodec(key, self.build(args[1], where))

    def union(self, args: tuple[Any, ...], where: str) -> c.Codec:
        variants = [self.build(a, where) for a in args]
        ref = TypeRef.union(*(v.ref for v in variants))
        if ref.kind is not TypeKind.UNION:
            return variants[0]
        # TypeRef.union flattens and de-duplicates: keep one codec per variant, in its order
        ordered = [next(v for v in variants if v.ref == a) for a in ref.args]
        return c.UnionCodec(ref, ordered)

    def from_class(self, t: type, where: str) -> c.Codec:
        if issubclass(t, enum.Enum):
            return self.enum(t, where)
        if issubclass(t, File):
            return c.FileCodec(t)
        if issubclass(t, Directory):
            return c.DirectoryCodec(t)
        flavour = dataframe_flavour(t)
        if flavour is not None:
            return DataFrameCodec(flavour)
        if is_structured_dataset(t):
            return StructuredDatasetCodec()
        if dataclasses.is_dataclass(t):
            return self.struct(t, "dataclass", where)
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and issubclass(t, pydantic.BaseModel):
            return self.struct(t, "pydantic", where)
        return self.unsupported(t, where)

    def enum(self, t: type[enum.Enum], where: str) -> c.Codec:
        values = [str(m.value) for m in t]
        if len(set(values)) != len(values):
            raise UnsupportedTypeError(
                f"{where}: enum {t.__qualname__} cannot be represented as a setpoint literal; "
                "its members' values must be distinct as strings"
            )
        return c.EnumCodec(t, TypeRef(TypeKind.ENUM, name=qualified_name(t), values=tuple(values)))

    def struct(self, t: type, variant: str, where: str) -> c.Codec:
        if t in self.in_progress:
            raise UnsupportedTypeError(
                f"{where}: type {t.__qualname__} refers to itself; recursive types cannot be setpoint literals"
            )
        self.in_progress.add(t)
        try:
            annotations = self._field_types(t, variant, where)
            fields = [(n, self.build(a, f"{where}, field '{n}'")) for n, a in annotations]
        finally:
            self.in_progress.discard(t)
        ref = TypeRef(
            TypeKind.STRUCT,
            name=qualified_name(t),
            fields=tuple((n, codec.ref) for n, codec in fields),
            variant=variant,
        )
        return c.StructCodec(t, ref, fields, _struct_builder(t, variant))

    def _field_types(self, t: type, variant: str, where: str) -> list[tuple[str, object]]:
        if variant == "pydantic":
            return [(n, f.annotation) for n, f in t.model_fields.items()]  # type: ignore[attr-defined]
        try:
            hints = get_type_hints(t, include_extras=True)
        except Exception as e:  # NameError for unresolvable forward references, and friends
            raise UnsupportedTypeError(f"{where}: cannot resolve the field types of {t.__qualname__}: {e}") from e
        return [(f.name, hints[f.name]) for f in dataclasses.fields(t) if f.init]


def _is_key_type(t: object) -> bool:
    return t in (int, float, bool) or (isinstance(t, type) and issubclass(t, enum.Enum))


def _struct_builder(t: Any, variant: str) -> Callable[[dict[str, Any]], Any]:
    if variant == "dataclass":
        return lambda kwargs: t(**kwargs)
    keys = {
        n: f.validation_alias if isinstance(f.validation_alias, str) else (f.alias or n)
        for n, f in t.model_fields.items()
    }
    from pydantic import ValidationError

    def build(kwargs: dict[str, Any]) -> Any:
        try:
            return t.model_validate({keys[n]: v for n, v in kwargs.items()})
        except ValidationError as e:
            raise ValueError(str(e)) from None

    return build


# ---------------------------------------------------------------------------------------------
# Function interfaces
# ---------------------------------------------------------------------------------------------


def is_named_tuple(t: object) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


def output_types(fn: Callable[..., Any], *, where: str) -> list[tuple[str, object]]:
    """The (name, Python type) of each output, read as flytekit reads a return annotation.

    No annotation or ``-> None``: no outputs. A NamedTuple: one output per field, in field order.
    ``Tuple[a, b]`` or ``-> (a, b)``: one output per element, named ``o0``, ``o1``, ... Anything
    else: one output, ``o0``.
    """
    hints = function_hints(fn, where=where)
    if "return" not in hints:
        return []
    annotated = ret = hints["return"]
    if get_origin(ret) is Annotated:
        ret = get_args(ret)[0]
    if ret is None or ret is type(None):
        return []
    if is_named_tuple(ret):
        field_hints = get_type_hints(ret, include_extras=True)
        return [(check_name(n, f"output name in {where}"), field_hints[n]) for n in ret._fields]
    if isinstance(ret, tuple):
        return [(f"o{i}", t) for i, t in enumerate(ret)]
    if get_origin(ret) is tuple:
        args = get_args(ret)
        if not args or (len(args) == 2 and args[1] is Ellipsis) or args == ((),):
            raise SpecError(
                f"{where}: return type {type_name(ret)} does not say how many outputs there are; "
                "write Tuple[a, b] for two outputs, or list[T] for one output holding a list"
            )
        return [(f"o{i}", t) for i, t in enumerate(args)]
    return [("o0", annotated)]  # Annotated kept: its metadata (HashMethod, columns) applies to the output


def function_hints(fn: Callable[..., Any], *, where: str) -> dict[str, Any]:
    """``typing.get_type_hints(fn, include_extras=True)``, also when the return is ``(a, b)``.

    A tuple of types is not a type, so typing refuses it when annotations are strings (``from
    __future__ import annotations``); flytekit reads it as several outputs, and so do we.
    """
    try:
        return get_type_hints(fn, include_extras=True)
    except TypeError as e:
        first = e
    except Exception as e:  # NameError for an annotation that names something not imported
        raise SpecError(f"{where}: cannot resolve the type annotations: {e}") from e
    try:
        return _hints_with_tuple_return(fn, where)
    except SpecError:
        raise SpecError(f"{where}: cannot resolve the type annotations: {first}") from first


def output_values(
    fn: Callable[..., Any], result: Any, declared: list[str], *, where: str
) -> list[tuple[str, object, Any]]:
    """Pair what a task returned with its outputs: ``(name, Python type, value)`` in ``declared`` order.

    Matching is by name, so a spec that lists a NamedTuple's fields in another order than the class
    (a spec read back from canonical JSON lists them alphabetically) still gets each value under
    its own name. A single-field NamedTuple may be returned bare. Mismatches raise `SpecError`
    (the code and the spec disagree) or `TypeMismatchError` (the value has the wrong shape).
    """
    actual = output_types(fn, where=where)
    names = [n for n, _ in actual]
    if sorted(names) != sorted(declared):
        raise SpecError(
            f"{where}: the function returns outputs ({', '.join(names) or 'none'}) but its spec declares "
            f"({', '.join(declared) or 'none'}); the code does not match the spec"
        )
    if not actual:
        if result is not None:
            raise TypeMismatchError(f"{where}: returned {describe(result)} but declares no outputs (-> None)")
        return []
    if names == ["o0"]:
        return [("o0", actual[0][1], result)]
    if len(actual) == 1 and not isinstance(result, tuple):
        result = (result,)
    if not isinstance(result, tuple) or len(result) != len(actual):
        raise TypeMismatchError(
            f"{where}: expected a tuple of {len(actual)} outputs ({', '.join(names)}), got {describe(result)}"
        )
    by_name = {n: (t, v) for (n, t), v in zip(actual, result, strict=True)}
    return [(n, by_name[n][0], by_name[n][1]) for n in declared]


def _hints_with_tuple_return(fn: Callable[..., Any], where: str) -> dict[str, Any]:
    raw = dict(getattr(fn, "__annotations__", {}))
    ret = raw.pop("return", None)
    namespace = getattr(fn, "__globals__", {})
    if isinstance(ret, str):
        try:
            ret = eval(ret, dict(namespace))  # the user's own annotation, as typing would
        except Exception as e:
            raise SpecError(f"{where}: cannot resolve the return annotation {ret!r}: {e}") from e
    if not isinstance(ret, tuple):
        raise SpecError(f"{where}: cannot resolve the type annotations")

    def stub() -> None: ...

    keys = [f"@return{i}" for i in range(len(ret))]  # not identifiers: no clash with a parameter
    stub.__annotations__ = dict(zip(keys, ret, strict=True)) | raw
    try:
        resolved = get_type_hints(stub, globalns=namespace, include_extras=True)
    except Exception as e:
        raise SpecError(f"{where}: cannot resolve the type annotations: {e}") from e
    out = {k: v for k, v in resolved.items() if k in raw}
    out["return"] = tuple(resolved[k] for k in keys)
    return out


def function_interface(fn: Callable[..., Any], *, where: str, allow_pickle: bool = False) -> Interface:
    """The typed interface of a task function, read from its signature and annotations."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        raise SpecError(f"{where}: cannot read the function's signature: {e}") from e
    hints = function_hints(fn, where=where)
    inputs: list[tuple[str, Variable]] = []
    for name, p in sig.parameters.items():
        pwhere = f"{where}, input '{name}'"
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SpecError(f"{where}: *{name} / **{name} parameters are not supported; declare each input")
        if p.kind is p.POSITIONAL_ONLY:
            raise SpecError(f"{pwhere}: positional-only parameters are not supported (inputs are passed by name)")
        check_name(name, f"input name in {where}")
        if name not in hints:
            raise SpecError(f"{pwhere}: parameter '{name}' has no type annotation; annotate it, e.g. {name}: int")
        t = type_ref(hints[name], where=pwhere, allow_pickle=allow_pickle)
        if p.default is p.empty:
            inputs.append((name, Variable(t)))
            continue
        inputs.append((name, Variable(t, default_literal(p.default, hints[name], pwhere, allow_pickle), True)))
    outputs = tuple(
        (name, type_ref(t, where=f"{where}, output '{name}'", allow_pickle=allow_pickle))
        for name, t in output_types(fn, where=where)
    )
    return Interface(tuple(inputs), outputs)


def default_literal(value: Any, py_type: object, where: str, allow_pickle: bool) -> Any:
    """A parameter default as an inline literal (defaults live in the spec, not in a blob store)."""
    codec = codec_for(py_type, where=where, allow_pickle=allow_pickle)
    try:
        return codec.encode(value, LiteralContext(None, None), where, False)
    except TypeMismatchError as e:
        raise TypeMismatchError(f"{e} (the parameter's default value)") from None
    except (BlobError, UserError) as e:
        raise SpecError(
            f"{where}: a default of type {codec.ref} cannot be stored in the spec; "
            "make the input required or Optional with default None"
        ) from e
