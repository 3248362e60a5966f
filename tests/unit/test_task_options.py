"""Task options (resources, secrets, decks, images, TaskMetadata), current_context(), checkpoints and
secrets, in-process: the spec's form, validation, and the runtime's side of one attempt."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from setpoint.adapters import secrets
from setpoint.adapters.executor.runtime import run_attempt
from setpoint.adapters.executor.worker import _scrub
from setpoint.core.model import AttemptRecord, NodeRecord
from setpoint.core.phases import AttemptPhase, NodePhase
from setpoint.errors import NotFoundError, SpecError
from setpoint.sdk import current
from setpoint.sdk.current import Checkpoint, RecoverableException, SecretNotFoundError, Secrets, current_context
from setpoint.sdk.deck import Deck, render_page
from setpoint.sdk.task import ImageSpec, Resources, Secret, Task, TaskMetadata, TaskOptionWarning, task
from setpoint.sdk.workflow import workflow
from setpoint.service.inspect import NodeView, deck_path
from setpoint.spec.workflow import TaskSpec
from tests.e2e import wf_flyte_context as wfc

# The keys of a plain task's spec before these options existed: they must not change (digests, cache).
PLAIN_KEYS = {
    "name", "module", "qualname", "interface", "retries", "timeout_s", "cache", "executor", "resources", "kind",
    "unsafe_pickle",
}  # fmt: skip


def plain(x: int) -> int:
    return x


def make(**options: Any) -> Task:
    return Task(plain, **options)


# -- the spec ----------------------------------------------------------------------------------


def test_a_task_without_the_new_options_keeps_its_spec_form() -> None:
    spec = make(requests=Resources(cpu=2, mem="1Gi")).spec().to_json()
    assert set(spec) == PLAIN_KEYS
    assert spec["resources"] == {"cpu": "2", "mem": "1Gi"}


def test_new_options_are_recorded_and_round_trip() -> None:
    with pytest.warns(TaskOptionWarning) as caught:
        spec = make(
            requests=Resources(cpu="500m", mem="512Mi", gpu=1, ephemeral_storage="10Gi"),
            limits=Resources(cpu=4, mem="2Gi"),
            secret_requests=[Secret("db", "password"), Secret("token")],
            enable_deck=True,
            container_image="ghcr.io/acme/train:1.2",
        ).spec()
    data = spec.to_json()
    assert data["resources"] == {"cpu": "0.5", "mem": "512Mi", "gpu": "1"}  # what the Ray executor reads
    assert data["ephemeral_storage"] == "10Gi"
    assert data["limits"] == {"cpu": "4", "mem": "2Gi"}
    assert data["secrets"] == [{"group": "db", "key": "password"}, {"group": "token", "key": ""}]
    assert data["enable_deck"] is True and data["container_image"] == "ghcr.io/acme/train:1.2"
    assert TaskSpec.from_json(data, "t") == spec
    said = " ".join(str(w.message) for w in caught)
    assert "container_image" in said and "limits" in said and "ephemeral_storage" in said
    assert "plain" in said  # names the task


def test_image_spec_is_recorded_by_its_name_and_tag() -> None:
    image = ImageSpec(name="train", packages=["pandas"], registry="ghcr.io/acme")
    with pytest.warns(TaskOptionWarning, match="local executor"):
        spec = make(container_image=image).spec()
    assert re.fullmatch(r"ghcr\.io/acme/train:[0-9a-f]{16}", spec.container_image)
    assert ImageSpec(name="train", packages=["numpy"], registry="ghcr.io/acme").image_name() != spec.container_image


def test_unused_options_warn_once_when_a_workflow_compiles() -> None:
    t = task(container_image="img:1", interruptible=True)(plain)

    @workflow
    def wf(x: int = 1) -> int:
        a = t(x=x)
        return t(x=a)  # type: ignore[no-any-return]

    with pytest.warns(TaskOptionWarning) as caught:
        wf.compile()
    assert len(caught) == 2  # container_image and interruptible, once each although used twice
    with pytest.warns(DeprecationWarning, match="use plain2"):
        make(deprecated="use plain2").spec()


@pytest.mark.parametrize(
    ("res", "message"),
    [
        (Resources(mem="lots"), "mem='lots' is not a quantity"),
        (Resources(cpu=-3), "cpu=-3 is not a positive number"),
        (Resources(cpu="fast"), "cpu='fast'"),
        (Resources(gpu="x"), "gpu='x' is not a whole number"),
        (Resources(ephemeral_storage="10 bananas"), "ephemeral_storage="),
    ],
)
@pytest.mark.parametrize("where", ["requests", "limits"])
def test_bad_resources_are_spec_errors_naming_the_task(res: Resources, message: str, where: str) -> None:
    with pytest.raises(SpecError, match=rf"task '.*plain', {where}: {re.escape(message)}"):
        make(**{where: res})


def test_task_metadata_sets_the_run_options() -> None:
    t = make(metadata=TaskMetadata(retries=3, timeout=30, cache=True, cache_version="2", cache_serialize=True))
    spec = t.spec()
    assert (spec.retries, spec.timeout_s, spec.cache.enabled, spec.cache.version, spec.cache.serialize) == (
        3, 30.0, True, "2", True,
    )  # fmt: skip
    with pytest.raises(SpecError, match="not both"):
        make(metadata=TaskMetadata(retries=1), retries=2)
    with pytest.raises(SpecError, match="TaskMetadata"):
        make(metadata={"retries": 1})


@pytest.mark.parametrize(
    "bad", [[Secret("../etc", "passwd")], [Secret("db", "a/b")], [Secret("")], Secret("db"), ["db"]]
)
def test_bad_secret_requests_are_spec_errors(bad: Any) -> None:
    with pytest.raises(SpecError, match="secret"):
        make(secret_requests=bad)


def test_a_hostile_secret_name_in_spec_json_is_refused() -> None:
    data = make().spec().to_json()
    data["secrets"] = [{"group": "..", "key": "x"}]
    with pytest.raises(SpecError, match="invalid secret group"):
        TaskSpec.from_json(data, "t")


# -- current_context(), checkpoints, secrets, decks ------------------------------------------------


def test_current_context_outside_a_task_has_local_defaults() -> None:
    ctx = current_context()
    assert (ctx.execution_id.project, ctx.execution_id.domain, ctx.execution_id.name) == (
        "local", "development", "local",
    )  # fmt: skip
    assert Path(ctx.working_directory).is_dir()
    assert ctx.checkpoint.read() is None and not ctx.checkpoint.prev_exists()
    assert wfc.where_am_i.function(note="x")["workdir_ok"] == "True"  # a task function called directly


def test_checkpoint_bytes_files_and_folders(tmp_path: Path) -> None:
    first = Checkpoint(tmp_path / "0" / "checkpoint", None, tmp_path / "w0")
    first.write(b"one")
    first.write(b"two")  # the last save wins
    second = Checkpoint(tmp_path / "1" / "checkpoint", tmp_path / "0" / "checkpoint", tmp_path / "w1")
    assert second.prev_exists() and second.read() == b"two"
    folder = tmp_path / "state"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    second.save(folder)
    third = Checkpoint(tmp_path / "2" / "checkpoint", tmp_path / "1" / "checkpoint", tmp_path / "w2")
    got = third.restore(tmp_path / "restored")
    assert got is not None and (got / "sub" / "b.txt").read_text() == "B"
    with pytest.raises(ValueError, match="2 entries"):
        third.read()


def test_recoverable_exception_asks_for_a_retry() -> None:
    exc = RecoverableException("again")
    assert exc.retryable is True and str(exc) == "again"


def test_secrets_only_requested_and_errors_name_no_value() -> None:
    values = {("db", "password"): "hunter2-canary"}
    s = Secrets(lambda g, k: values.get((g, k)), frozenset({("db", "password"), ("db", "missing")}))
    assert s.get("db", "password") == "hunter2-canary"
    assert s.get("db", "password", encode_mode="rb") == b"hunter2-canary"
    with pytest.raises(SecretNotFoundError, match="not requested") as e1:
        s.get("other", "x")
    with pytest.raises(SecretNotFoundError, match="SETPOINT_SECRET_DB_MISSING") as e2:
        s.get("db", "missing")
    assert e1.value.retryable is False
    assert "hunter2" not in str(e1.value) + str(e2.value)
    assert _scrub("boom: hunter2-canary!") == "boom: [secret]!"
    assert s.db.password == "hunter2-canary"  # flytekit's attribute spelling
    with pytest.raises(SecretNotFoundError, match="not requested"):
        _ = s.other.thing


def test_the_attempt_logger_scrubs_secret_values(capsys: pytest.CaptureFixture[str]) -> None:
    current.remember_values(["s3cr3t-in-a-log"])
    try:
        logger = current.attempt_logger(f"t{os.getpid()}")
        handler = logger.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(sys.stderr)  # capsys replaced sys.stderr after the handler was made
        logger.info("token is %s", "s3cr3t-in-a-log")
    finally:
        current._KNOWN_VALUES.clear()
    assert "token is [secret]" in capsys.readouterr().err


def test_providers_environment_files_and_a_plugged_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "password").write_text("from-file")
    (tmp_path / "wholegroup").write_text("group-value")
    env = {"_FSEC_API_TOKEN": "flyte-spelling", "SETPOINT_SECRET_DB_PASSWORD": "from-env"}
    chain = secrets.default_provider(tmp_path, env)
    assert chain.get("db", "password") == "from-env"  # the environment first
    assert secrets.default_provider(tmp_path, {}).get("db", "password") == "from-file"
    assert chain.get("api", "token") == "flyte-spelling"
    assert chain.get("wholegroup", "") == "group-value"
    assert chain.get("db", "nope") is None
    plugged = secrets.default_provider(tmp_path, {secrets.PROVIDER_ENV: f"{__name__}:fixed_provider"})
    assert plugged.get("any", "thing") == "plugged"
    with pytest.raises(SecretNotFoundError, match=r"task 't': secret 'db/nope' not found"):
        secrets.resolve([("db", "nope")], chain, "task 't'")
    monkeypatch.setenv("SETPOINT_SECRET_X_Y", "hidden")
    with secrets.hidden_environment():
        assert "SETPOINT_SECRET_X_Y" not in os.environ
    assert os.environ["SETPOINT_SECRET_X_Y"] == "hidden"


class _Fixed:
    def get(self, group: str, key: str) -> str | None:
        return "plugged"


def fixed_provider() -> _Fixed:
    return _Fixed()


def test_deck_page_escapes_names_and_keeps_html() -> None:
    page = render_page("t <1>", [Deck("a<b>", "<p>kept</p>", auto_add_to_deck=False)])
    assert "a&lt;b&gt;" in page and "<p>kept</p>" in page and "t &lt;1&gt;" in page


# -- one attempt through the runtime -----------------------------------------------------------------


@pytest.fixture
def attempts(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "home" / "attempts"
    root.mkdir(parents=True)
    yield root
    current._KNOWN_VALUES.clear()


def attempt(root: Path, t: Task, inputs: dict[str, Any], number: int = 0, node: str = "n") -> tuple[Path, Any]:
    d = root / "exec1" / node / str(number)
    d.mkdir(parents=True)
    payload = {"task": t.spec().to_json(), "inputs": inputs, "blob_root": str(root.parent / "blobs"), "project": "p1"}
    try:
        return d, run_attempt(payload, d)
    except Exception as e:
        return d, e


def test_runtime_gives_the_attempt_its_context(attempts: Path) -> None:
    _, out = attempt(attempts, wfc.where_am_i, {"note": "hi"}, node="where_am_i")
    assert out["outputs"]["o0"] == {
        "project": "p1", "domain": "development", "name": "exec1", "workdir_ok": "True", "node": "where_am_i",
    }  # fmt: skip


def test_a_retried_attempt_reads_the_last_checkpoint(attempts: Path) -> None:
    _, first = attempt(attempts, wfc.resumable, {"start": 1}, 0)
    assert isinstance(first, RecoverableException)
    _, second = attempt(attempts, wfc.resumable, {"start": 1}, 1)
    assert second == {"outputs": {"o0": 43}}
    # an attempt stopped between the two renames of a save: its previous checkpoint still counts
    node = attempts / "exec1" / "n"
    (node / "0" / "checkpoint").rename(node / "0" / ".checkpoint-old")
    _, third = attempt(attempts, wfc.resumable, {"start": 1}, 2)
    assert third == {"outputs": {"o0": 43}}


def test_decks_render_to_one_page_per_attempt(attempts: Path) -> None:
    d, out = attempt(attempts, wfc.report, {"x": 4}, node="report")
    assert out == {"outputs": {"o0": 8}}
    page = (d / "deck.html").read_text()
    for text in ("plot-of-x", "x is 4", "default-deck-text", "Inputs", "Outputs"):
        assert text in page
    attempt(attempts, wfc.where_am_i, {}, node="plain")
    assert not (attempts / "exec1" / "plain" / "0" / "deck.html").exists()
    failed_dir, failed = attempt(attempts, wfc.failing_report, {"x": 7}, node="failing")
    assert isinstance(failed, ValueError)
    failed_page = (failed_dir / "deck.html").read_text()  # a failed attempt's decks are kept too
    assert "got as far as 7" in failed_page and "Inputs" in failed_page and "Outputs" not in failed_page

    def view(node: str, numbers: list[int]) -> NodeView:
        tries = tuple(AttemptRecord("exec1", node, n, AttemptPhase.SUCCEEDED, "local", 0.0) for n in numbers)
        return NodeView(node, "t", (), NodeRecord("exec1", node, NodePhase.SUCCEEDED), tries)

    views = [view("report", [0]), view("plain", [0]), view("later", [])]
    assert deck_path(views, attempts, "exec1", "report") == d / "deck.html"
    for node, attempt_no, message in [
        ("plain", None, "enable_deck=True"),
        ("later", None, "has not run yet"),
        ("report", 3, "no attempt 3"),
        ("nope", None, "has no node 'nope'"),
    ]:
        with pytest.raises(NotFoundError, match=message):
            deck_path(views, attempts, "exec1", node, attempt_no)


def test_runtime_resolves_only_requested_secrets(attempts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(wfc.SECRET_ENV, "canary-value-123")
    monkeypatch.setenv("SETPOINT_SECRET_OTHER_THING", "not-for-you")
    _, out = attempt(attempts, wfc.login, {"user": "ada"}, node="login")
    assert out["outputs"]["o0"].startswith("ada:") and out["outputs"]["o0"].endswith(":16:visible=none")
    assert os.environ["SETPOINT_SECRET_OTHER_THING"] == "not-for-you"  # put back after the attempt
    _, snooped = attempt(attempts, wfc.snoop, {}, node="snoop")
    assert isinstance(snooped, SecretNotFoundError) and "not requested" in str(snooped)
    monkeypatch.delenv(wfc.SECRET_ENV)
    _, missing = attempt(attempts, wfc.login, {"user": "ada"}, node="login2")
    assert isinstance(missing, SecretNotFoundError) and "db/password" in str(missing)
