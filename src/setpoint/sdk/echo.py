"""`Echo`: a task whose outputs are its inputs, as flytekit's ``Echo`` (an empty case of a branch).

``Echo(name="echo", inputs={"radius": float})`` declares one input ``radius`` and returns it as its
output of the same name. It runs as an ordinary (very short) attempt, so a branch case made of an
Echo has a node, a record and lineage like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from setpoint.sdk.shell import InstanceTask


class Echo(InstanceTask):
    """A task that passes its inputs through as outputs of the same names and types."""

    def __init__(self, name: str, inputs: Mapping[str, Any] | None = None, **options: Any) -> None:
        declared = dict(inputs or {})
        super().__init__(name, declared, list(declared.items()), **options)

    def execute(self, **kwargs: Any) -> tuple[Any, ...]:
        return tuple(kwargs[n] for n in self._output_names)
