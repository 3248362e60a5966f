"""Cache keys: what makes two task runs interchangeable, as a typed value hashed canonically.

A key is built from the project, the task's name, its interface (input and output types), its
``cache_version``, the digest of the code it runs (unless the task opts for version-only keys),
and the content hash of every input except the ignored ones. Keeping the parts, not just the
digest, lets `explain` say which part differed when a run missed the cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from setpoint.spec.canonical import digest, literal_hash
from setpoint.spec.workflow import TaskSpec


@dataclass(frozen=True, slots=True)
class CacheKey:
    project: str
    task: str
    interface: str
    version: str
    code: str
    inputs: tuple[tuple[str, str], ...]  # (input name, literal hash), sorted by name

    def components(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "task": self.task,
            "interface": self.interface,
            "version": self.version,
            "code": self.code,
            "inputs": dict(self.inputs),
        }

    @property
    def digest(self) -> str:
        return digest(self.components())


def interface_digest(task: TaskSpec) -> str:
    iface = task.interface
    return digest(
        {
            "inputs": {n: v.type.to_json() for n, v in iface.inputs},
            "outputs": {n: t.to_json() for n, t in iface.outputs},
        }
    )


def cache_key(project: str, task: TaskSpec, code_digest: str, inputs: Mapping[str, Any]) -> CacheKey:
    ignored = set(task.cache.ignore_inputs)
    return CacheKey(
        project=project,
        task=task.name,
        interface=interface_digest(task),
        version=task.cache.version,
        code=code_digest if task.cache.code_in_key else "",
        inputs=tuple(sorted((n, input_hash(v)) for n, v in inputs.items() if n not in ignored)),
    )


HASHED = "$hashed"  # an output's HashMethod hash beside its value (see setpoint.types.hashing)


def _has_hash(lit: Any) -> bool:
    if isinstance(lit, dict):
        return HASHED in lit if len(lit) == 1 else any(_has_hash(v) for v in lit.values())
    if isinstance(lit, list):
        return any(_has_hash(v) for v in lit)
    return False


def _hash_form(lit: Any) -> Any:
    """``lit`` with each ``$hashed`` wrapper replaced by the hash its `HashMethod` computed."""
    if isinstance(lit, dict):
        if len(lit) == 1 and HASHED in lit:
            body = lit[HASHED]
            if isinstance(body, dict) and isinstance(body.get("hash"), str):
                return {"$hashmethod": body["hash"]}
        return {k: _hash_form(v) for k, v in lit.items()}
    if isinstance(lit, list):
        return [_hash_form(v) for v in lit]
    return lit


def input_hash(lit: Any) -> str:
    """An input's part of the key: its content hash, or the `HashMethod` hash where an output has one.

    A literal without a ``$hashed`` wrapper hashes exactly as `literal_hash`, so existing keys are
    unchanged; a wrapper counts as its hash alone, so equal hashes hit whatever the bytes are.
    """
    return literal_hash(_hash_form(lit)) if _has_hash(lit) else literal_hash(lit)


def explain(wanted: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[str]:
    """Which parts of a key differ from a stored entry's key, in words."""
    out = []
    labels = {
        "project": "the project",
        "task": "the task name",
        "interface": "the interface (an input or output type changed)",
        "version": "cache_version",
        "code": "the task's code",
    }
    for part, label in labels.items():
        if wanted.get(part) != candidate.get(part):
            if part == "version":
                out.append(f"{label} ({candidate.get(part)!r} -> {wanted.get(part)!r})")
            else:
                out.append(label)
    w_in: Mapping[str, str] = wanted.get("inputs", {})
    c_in: Mapping[str, str] = candidate.get("inputs", {})
    for name in sorted(set(w_in) | set(c_in)):
        if name not in c_in:
            out.append(f"input '{name}' (not part of the stored key)")
        elif name not in w_in:
            out.append(f"input '{name}' (no longer part of the key)")
        elif w_in[name] != c_in[name]:
            out.append(f"input '{name}' (value changed)")
    return out
