"""Registration is immutable and idempotent; executions of registered entities validate inputs first."""

from __future__ import annotations

from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.errors import InputError, NotFoundError, RegistrationConflictError
from setpoint.ports import ExecutionFilter
from tests.e2e.cli_util import setpoint, setpoint_json

from .conftest import WF

pytestmark = pytest.mark.timeout(120)


def test_registering_again_is_a_no_op(client: Client, version: str) -> None:
    again, done = client.register([WF], project="team")
    assert again == version  # derived from the content, so the same
    assert len(version) == 12
    assert done
    assert not any(r.created for r in done)
    kinds = {(r.entity.kind, r.entity.name) for r in done}
    assert {("workflow", "pipeline"), ("workflow", "gated"), ("launchplan", "nightly")} <= kinds
    assert ("task", "tests.server.wf_registry.add") in kinds
    assert [e.version for e in client.store.list_entity_versions("workflow", "team", "pipeline")] == [version]


def test_registered_entities_pin_spec_code_and_launch_plan_inputs(client: Client, version: str) -> None:
    wf = client.store.get_entity("workflow", "team", "pipeline")
    assert wf.version == version
    assert len(wf.spec_digest) == len(wf.code_digest) == 64
    assert client.store.get_spec(wf.spec_digest)
    lp = client.store.get_entity("launchplan", "team", "nightly", version)
    assert lp.body["workflow"] == "pipeline"
    assert lp.body["workflow_version"] == version
    assert (lp.body["default_inputs"], lp.body["fixed_inputs"]) == ({"b": 5}, {"a": 1})
    assert lp.spec_digest == wf.spec_digest


def test_a_launch_pins_the_registered_digests(client: Client, version: str) -> None:
    eid = client.create_registered("workflow", "pipeline", inputs={"a": 4}, project="team")
    rec = client.get(eid)
    wf = client.store.get_entity("workflow", "team", "pipeline", version)
    assert (rec.spec_digest, rec.code_digest, rec.project) == (wf.spec_digest, wf.code_digest, "team")
    assert rec.inputs == {"a": 4, "b": 2}
    client.start_controller()
    assert client.wait(eid, timeout=60).phase.value == "SUCCEEDED"
    assert client.outputs(eid) == {"o0": 12}


@pytest.mark.parametrize(
    ("kind", "name", "inputs", "message"),
    [
        ("workflow", "pipeline", {}, "missing input 'a' (int)"),
        ("workflow", "pipeline", {"a": 1, "c": 2}, "unknown input 'c'"),
        ("workflow", "pipeline", {"a": "one"}, "input 'a': expected int"),
        ("launchplan", "nightly", {"a": 2}, "input 'a' is fixed by the launch plan"),
        ("launchplan", "nightly", {"b": [1]}, "input 'b': expected int"),
    ],
)
def test_inputs_are_validated_before_anything_is_created(
    client: Client, version: str, kind: str, name: str, inputs: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        client.create_registered(kind, name, inputs=inputs, project="team")
    assert client.executions(ExecutionFilter(project="team")) == []


def test_unknown_names_and_versions_are_not_found(client: Client, version: str) -> None:
    with pytest.raises(NotFoundError, match="workflow 'nope' is not registered in project 'team'"):
        client.create_registered("workflow", "nope", project="team")
    with pytest.raises(NotFoundError, match="version 'v0'"):
        client.create_registered("workflow", "pipeline", "v0", {"a": 1}, project="team")
    with pytest.raises(NotFoundError):
        client.create_registered("workflow", "pipeline", inputs={"a": 1}, project="elsewhere")


PIPE = """
from setpoint import LaunchPlan, task, workflow


@task
def inc(x: int) -> int:
    return x + {step}


@workflow
def flow(x: int) -> int:
    return inc(x=x)


plan = LaunchPlan.get_or_create(flow, name="plan", default_inputs={{"x": 1}})
"""


def test_same_version_with_other_content_is_refused_with_a_diff(tmp_path: Path) -> None:
    """Through the real CLI: each registration is a fresh process that imports the edited file."""
    home, src = tmp_path / "home", tmp_path / "src"
    src.mkdir()
    (src / "mypipe.py").write_text(PIPE.format(step=1))
    first = setpoint_json(home, "register", str(src / "mypipe.py"), "--project", "p", "--version", "v1")
    assert first["version"] == "v1"
    assert all(e["created"] for e in first["entities"])
    again = setpoint_json(home, "register", str(src / "mypipe.py"), "--project", "p", "--version", "v1")
    assert not any(e["created"] for e in again["entities"])

    (src / "mypipe.py").write_text(PIPE.format(step=2))
    proc = setpoint(home, "register", str(src / "mypipe.py"), "--project", "p", "--version", "v1")
    assert proc.returncode == 2, proc.stderr
    err = " ".join(proc.stderr.split())
    assert "version 'v1' is already registered in project 'p' with other content" in err
    assert "code bundle changed" in err
    # Nothing of the refused registration was written; a derived version registers fine.
    derived = setpoint_json(home, "register", str(src / "mypipe.py"), "--project", "p")
    assert derived["version"] != "v1"
    eid = setpoint_json(home, "launch", "plan", "--launchplan", "--project", "p")["id"]
    setpoint(home, "controller", "--exit-when-idle", check=True)
    got = setpoint_json(home, "describe", eid)["execution"]
    assert got["phase"] == "SUCCEEDED"
    assert got["outputs"] == {"o0": 3}  # the latest version: x + 2


def test_the_diff_names_interface_tasks_and_nodes(client: Client, version: str) -> None:
    from setpoint.service import registry
    from tests.server import wf_registry

    found = registry.discover([WF])
    planned = registry.plan(found, "team", version, "0" * 64, 1.0)
    gated = wf_registry.gated.compile()
    other = next(e for e in planned.entities if e.kind == "workflow" and e.name == "pipeline")
    swapped = registry.workflow_entity("team", version, gated, other.code_digest, 1.0)
    swapped = type(swapped)(**{**{f: getattr(swapped, f) for f in swapped.__slots__}, "name": "pipeline"})
    with pytest.raises(RegistrationConflictError) as info:
        registry.register_entities(client.store, "team", [swapped], dict(planned.specs), 1.0)
    message = str(info.value)
    assert "workflow 'pipeline'" in message
    assert "interface" in message
    assert "nodes added" in message
    assert "code bundle changed" in message
