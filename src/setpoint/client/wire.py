"""Records on the wire between `setpoint server` and every client of its API: one form each.

Each record's JSON form is derived from its dataclass fields (`setpoint.core.wire`); this module
adds the forms of the records the clients and services define (a node as a person sees it, a
registered entity, a lineage tree) and the one thing the wire does to values: literals travel
intact (tagged JSON, blob references), and ``values=plain`` turns the literal fields of a record
into plain JSON for people and scripts (`literal_to_plain`). The server encodes with `to_wire`,
the remote client decodes with `from_wire`, the CLI prints `to_wire` for ``--output json`` and the
API's schema is generated from `FORMS` (`setpoint.server.schema`), so none of them can drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from setpoint.core.wire import WIRE, Form
from setpoint.ports import RegisteredEntity
from setpoint.service.inspect import NodeView
from setpoint.service.lineage import Source

T = TypeVar("T")

FORMS = WIRE.extend(
    {
        # A node as shown: its recorded state's keys at the top level, beside its spec's and attempts.
        NodeView: Form(rename={"node_id": "id"}, flatten="record"),
        Source: Form(rename={"value_hash": "hash"}),
        RegisteredEntity: Form(omit=("seq",)),  # the store's ordering, not part of the entity
    }
)

# The fields of a record that hold literals (inputs and outputs of executions and nodes).
LITERAL_FIELDS = ("inputs", "outputs")


def to_wire(record: Any) -> dict[str, Any]:
    """A record (any dataclass with a form in `FORMS`, or plain fields) as its JSON object."""
    return FORMS.encode(record)


def from_wire(cls: type[T], data: Mapping[str, Any], **given: Any) -> T:
    """The inverse of `to_wire`; ``given`` supplies the fields the wire leaves out (an event's execution)."""
    return FORMS.decode(cls, data, **given)


def plain(data: dict[str, Any], blobs: Any = None) -> dict[str, Any]:
    """A record's JSON with its literal fields as plain JSON (``values=plain``; ``--output json``)."""
    out = dict(data)
    for name in LITERAL_FIELDS:
        values = out.get(name)
        if isinstance(values, dict):
            out[name] = {k: literal_to_plain(v, blobs) for k, v in values.items()}
    return out


def literal_to_plain(lit: Any, blobs: Any = None) -> Any:
    """`setpoint.types.literal_to_plain`: reading literal tags is the types package's business."""
    from setpoint.types import literal_to_plain as to_plain  # lazily: the CLI starts without the type engine

    return to_plain(lit, blobs)
