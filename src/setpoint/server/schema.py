"""The API's record schemas, generated from the records' one wire form (`setpoint.client.wire`).

A response model here is never written field by field: `record_model` reads a record's form (its
dataclass fields, renamed or left out as the form says) and builds the pydantic model FastAPI
validates responses with and publishes in the OpenAPI document. Enums become enum schemas with
their values, nested records their own models, literal values open JSON. A field added to a
record appears in the API, its schema and the console with no edit here.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from setpoint.client.wire import FORMS
from setpoint.core.model import AttemptRecord, CatalogEntry, ErrorInfo, Event, ExecutionRecord, LineageRow
from setpoint.core.recovery import PlanItem
from setpoint.ports import RegisteredEntity
from setpoint.service.inspect import NodeView
from setpoint.service.lineage import Consumer

# Schema names of the records the API shows (their class names where those are clear to a reader).
NAMES: dict[type, str] = {
    ExecutionRecord: "Execution",
    NodeView: "Node",
    AttemptRecord: "Attempt",
    Event: "Event",
    CatalogEntry: "CatalogEntry",
    RegisteredEntity: "Entity",
    LineageRow: "LineageEdge",
    ErrorInfo: "ErrorInfo",
    PlanItem: "PlanItem",
    Consumer: "Consumer",
}

_MODELS: dict[type, type[BaseModel]] = {}


def record_model(cls: type) -> type[BaseModel]:
    """The pydantic model of ``cls``'s wire form: one required property per key, in order."""
    got = _MODELS.get(cls)
    if got is not None:
        return got
    fields: dict[str, Any] = {f.key: (_annotation(f.type), ...) for f in FORMS.fields(cls)}
    model = create_model(
        NAMES.get(cls, cls.__name__),
        __config__=ConfigDict(extra="ignore"),
        __doc__=_doc(cls),
        __module__=__name__,
        **fields,
    )
    _MODELS[cls] = model
    return typing.cast(type[BaseModel], model)


def _doc(cls: type) -> str | None:
    doc = (cls.__doc__ or "").strip()
    return None if not doc or doc.startswith(f"{cls.__name__}(") else doc  # not dataclass's generated one


def _annotation(tp: Any) -> Any:
    """The pydantic type of a value the wire form encodes from declared type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        mapped = tuple(_annotation(a) for a in args)
        return typing.Union[mapped]  # noqa: UP007 - built from a runtime tuple
    if origin is tuple or origin is list:
        items = [a for a in args if a is not Ellipsis]
        return list[_annotation(items[0]) if len(set(items)) == 1 else Any]  # type: ignore[misc]
    if origin is dict:
        return dict[str, _annotation(args[1]) if len(args) == 2 else Any]  # type: ignore[misc]
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return tp
        if dataclasses.is_dataclass(tp):
            return record_model(tp)
    return tp
