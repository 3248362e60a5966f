"""When a value may travel pickled: the task's opt-in, and the deployment's policy.

A type with no literal form (a class that is not a dataclass, a model, an enum ...) can only travel
as a pickle, and unpickling runs code chosen by whoever wrote the bytes. So (see docs/flyte-data.md
for the threat model):

- by default (``SETPOINT_PICKLE=classes``), as flytekit does, a value of a plain class with no
  literal form (a scikit-learn model, a user's own class) travels pickled; typing constructs that
  have a better spelling (``Any``, ``tuple``, ``set``, ``date`` ...) stay errors that say what to use;
- ``SETPOINT_PICKLE=opt-in``: a task pickles only if it opts in (``@task(unsafe_pickle=True)``);
  ``SETPOINT_PICKLE=allow``: any type without a literal form, for every task;
- a deployment can forbid pickling altogether (``SETPOINT_PICKLE=forbid``): such tasks are refused
  when declared, and no pickled value is ever encoded or decoded;
- a pickled value is only ever written by a task of the execution tree; literals given by a CLI or
  API client are refused if they contain one (`setpoint.types.jsonvalues`).

The policy is read from the environment of each process (the CLI, the controller, every task
process inherit it), once per call: it is cheap and tests can change it.
"""

from __future__ import annotations

import os

from setpoint.errors import UserError

ENV = "SETPOINT_PICKLE"
CLASSES, OPT_IN, ALLOW, FORBID = "classes", "opt-in", "allow", "forbid"
POLICIES = (CLASSES, OPT_IN, ALLOW, FORBID)


def pickle_policy() -> str:
    """The deployment's pickling policy: "classes" (the default), "opt-in", "allow" or "forbid"."""
    value = os.environ.get(ENV, "").strip().lower() or CLASSES
    if value not in POLICIES:
        raise UserError(f"{ENV}={value!r} is not a pickling policy; use one of {', '.join(POLICIES)}")
    return value


def may_pickle(task_opted_in: bool) -> bool:
    """May a task with this opt-in declare pickled inputs and outputs here?"""
    policy = pickle_policy()
    return policy == ALLOW or (policy == OPT_IN and task_opted_in)


def forbidden_message(where: str) -> str:
    return f"{where}: this deployment forbids pickled values ({ENV}=forbid); declare a type with a literal form"


class BatchSize:
    """``Annotated[list[T], BatchSize(n)]`` (flytekit): how many pickled items flytekit puts per file.

    Accepted and not used: setpoint stores each pickled item as its own content-addressed blob (so
    equal items are stored once and a list is never re-pickled as a whole). Declaring it says so
    with a warning when the task's interface is read.
    """

    __slots__ = ("val",)

    def __init__(self, val: int) -> None:
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise UserError(f"BatchSize needs a positive int, got {val!r}")
        self.val = val

    def __repr__(self) -> str:
        return f"BatchSize({self.val})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BatchSize) and other.val == self.val

    def __hash__(self) -> int:
        return hash(("BatchSize", self.val))


class BatchSizeWarning(UserWarning):
    """A `BatchSize` was declared: accepted, recorded nowhere, not used (see `BatchSize`)."""
