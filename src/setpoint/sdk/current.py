"""`current_context()`: what a running task can ask about its attempt (docs/decks-and-context.md).

Inside a task the executor's runtime installs a `TaskContext` for the attempt: its working
directory, the execution's id, a logger that writes to the attempt's log, a checkpoint that a
retried attempt reads back, the secrets the task requested, and its decks. Outside a task (a
task function called directly, a test) `current_context()` still answers, with local defaults:
a temporary working directory, the id ``local/development/local``, a checkpoint with nothing to
restore, secrets read from the environment.

Secret values are remembered (not their names) so an error record can be scrubbed of them before
it is written: `redact`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from setpoint.errors import TaskError
from setpoint.sdk import deck as _deck
from setpoint.sdk.deck import Deck

SECRET_ENV_PREFIXES = ("SETPOINT_SECRET_", "_FSEC_")  # setpoint's own, and flytekit's
CHECKPOINT_FILE = "_cp"  # the one file behind Checkpoint.read()/write()
OLD_CHECKPOINT = ".checkpoint-old"  # the previous save, for the moment a new one replaces it
DEFAULT_DOMAIN = "development"  # setpoint has no domains; Flyte's default one is reported

SecretLookup = Callable[[str, str], "str | None"]


class RecoverableException(TaskError):
    """Raise from a task to fail the attempt and ask for a retry (flytekit's FlyteRecoverableException).

    Every exception setpoint sees is retried while the task has retries left, unless it says
    ``retryable=False`` (`setpoint.errors.NonRetryableError`); this one says so explicitly.
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(message, retryable=True)


class SecretNotFoundError(TaskError):
    """A secret is missing, or the task did not request it. Names the secret, never a value."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True, slots=True)
class ExecutionId:
    """Which execution an attempt belongs to, in Flyte's three parts."""

    project: str
    domain: str
    name: str

    def __str__(self) -> str:
        return f"{self.project}/{self.domain}/{self.name}"


def secret_env_names(group: str, key: str) -> tuple[str, ...]:
    """The environment variables a secret may come from, setpoint's spelling first."""
    suffix = re.sub(r"[^A-Za-z0-9]", "_", f"{group}_{key}" if key else group).upper()
    return tuple(prefix + suffix for prefix in SECRET_ENV_PREFIXES)


def environment_lookup(group: str, key: str) -> str | None:
    for name in secret_env_names(group, key):
        value = os.environ.get(name)
        if value is not None:
            return value
    return None


_KNOWN_VALUES: set[str] = set()  # every secret value handed to a task in this process


def remember_values(values: Iterator[str] | list[str]) -> None:
    """Note secret values handed to this process, so `redact` can take them out of error records."""
    _KNOWN_VALUES.update(v for v in values if v)


def redact(text: str) -> str:
    """``text`` with every secret value this process resolved replaced by ``[secret]``."""
    for value in sorted(_KNOWN_VALUES, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "[secret]")
    return text


class Secrets:
    """``secrets.get(group, key)``: a secret the task requested, as a string (or bytes with ``encode_mode="rb"``)."""

    def __init__(self, lookup: SecretLookup, requested: frozenset[tuple[str, str]] | None = None) -> None:
        self._lookup = lookup
        self._requested = requested  # None: anything (outside a task)

    def get(
        self, group: str | None = None, key: str | None = None, group_version: str | None = None, encode_mode: str = "r"
    ) -> str | bytes:
        if not group:
            raise SecretNotFoundError("secrets.get needs a group")
        pair = (group, key or "")
        shown = f"{group}/{key}" if key else group
        if self._requested is not None and pair not in self._requested:
            raise SecretNotFoundError(
                f"secret '{shown}' was not requested by this task: add Secret(group={group!r}"
                f"{f', key={key!r}' if key else ''}) to its secret_requests"
            )
        value = self._lookup(*pair)
        if value is None:
            raise SecretNotFoundError(
                f"secret '{shown}' not found: set {secret_env_names(*pair)[0]} or write the file "
                f"<secrets dir>/{group}/{key or ''} (docs/secrets.md)"
            )
        _KNOWN_VALUES.add(value)
        return value.encode() if "b" in encode_mode else value

    def get_secrets_env_var(self, group: str, key: str | None = None) -> str:
        """The environment variable setpoint reads this secret from (first choice)."""
        return secret_env_names(group, key or "")[0]

    def __getattr__(self, group: str) -> _SecretGroup:
        """``secrets.<group>.<key>``, flytekit's attribute spelling of ``get(group, key)``."""
        if group.startswith("_"):
            raise AttributeError(group)
        return _SecretGroup(self, group)


class _SecretGroup:
    def __init__(self, secrets: Secrets, group: str) -> None:
        self._secrets = secrets
        self._group = group

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return str(self._secrets.get(self._group, key))


class Checkpoint:
    """Save progress during an attempt; a retried attempt of the same node reads the last one saved.

    ``write(bytes)``/``read()`` hold one blob; ``save(path or file)``/``restore()`` a file or a folder.
    ``read`` and ``restore`` see the checkpoint of the latest earlier attempt that saved one.
    """

    def __init__(self, dest: Path, src: Path | None, scratch: Path) -> None:
        self._dest = dest
        self._src = src
        self._scratch = scratch
        self._restored: Path | None = None

    def prev_exists(self) -> bool:
        return self._src is not None and self._src.is_dir()

    def restore(self, path: str | Path | None = None) -> Path | None:
        """Copy the previous checkpoint into ``path`` (default: a folder in the working directory)."""
        if not self.prev_exists():
            return None
        assert self._src is not None
        if path is None and self._restored is not None:
            return self._restored
        target = Path(path) if path is not None else self._scratch / "prev_checkpoint"
        shutil.copytree(self._src, target, dirs_exist_ok=True)
        if path is None:
            self._restored = target
        return target

    def save(self, cp: str | Path | io.BufferedReader | io.BytesIO) -> None:
        """Make ``cp`` (a file, a folder, or a readable binary stream) this attempt's checkpoint."""
        parent = self._dest.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".checkpoint-", dir=parent))
        try:
            if isinstance(cp, io.IOBase):
                (tmp / CHECKPOINT_FILE).write_bytes(cp.read())
            else:
                src = Path(cp)
                if src.is_dir():
                    shutil.copytree(src, tmp, dirs_exist_ok=True)
                elif src.is_file():
                    shutil.copy2(src, tmp / src.name)
                else:
                    raise FileNotFoundError(f"checkpoint source {src} does not exist")
            old = parent / OLD_CHECKPOINT
            if self._dest.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(self._dest, old)
            os.replace(tmp, self._dest)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def read(self) -> bytes | None:
        """The bytes the previous attempt wrote with `write` (None if it wrote none)."""
        where = self.restore()
        if where is None:
            return None
        found = list(where.iterdir())
        if not found:
            return None
        if len(found) > 1 or not found[0].is_file():
            raise ValueError(f"the previous checkpoint holds {len(found)} entries, not one file: use restore()")
        return found[0].read_bytes()

    def write(self, data: bytes) -> None:
        self.save(io.BytesIO(bytes(data)))


class TaskContext:
    """What `current_context()` returns (flytekit's ExecutionParameters, the parts setpoint has)."""

    def __init__(
        self,
        *,
        working_directory: Path,
        execution_id: ExecutionId,
        logger: logging.Logger,
        checkpoint: Checkpoint,
        secrets: Secrets,
        task_name: str = "",
        node_id: str = "",
        attempt: int = 0,
        enable_deck: bool = False,
    ) -> None:
        self._workdir = working_directory
        self.execution_id = execution_id
        self.logging = logger
        self.checkpoint = checkpoint
        self.secrets = secrets
        self.task_name = task_name
        self.node_id = node_id
        self.attempt = attempt
        self.enable_deck = enable_deck
        self.decks: list[Deck] = []

    @property
    def working_directory(self) -> str:
        self._workdir.mkdir(parents=True, exist_ok=True)
        return str(self._workdir)

    @property
    def default_deck(self) -> Deck:
        for deck in self.decks:
            if deck.name == "default":
                return deck
        return Deck("default")  # adds itself

    def add_deck(self, deck: Deck) -> None:
        if deck not in self.decks:
            self.decks.append(deck)


_CURRENT: ContextVar[TaskContext | None] = ContextVar("setpoint_task_context", default=None)
_LOCAL: list[TaskContext] = []


def current_context() -> TaskContext:
    """The running task's context, or the local defaults outside a task."""
    ctx = _CURRENT.get()
    if ctx is not None:
        return ctx
    if not _LOCAL:
        root = Path(tempfile.mkdtemp(prefix="setpoint-local-"))
        _LOCAL.append(
            TaskContext(
                working_directory=root / "work",
                execution_id=ExecutionId("local", DEFAULT_DOMAIN, "local"),
                logger=logging.getLogger("setpoint.task"),
                checkpoint=Checkpoint(root / "checkpoint", None, root / "work"),
                secrets=Secrets(environment_lookup),
            )
        )
    return _LOCAL[0]


@contextlib.contextmanager
def activated(ctx: TaskContext) -> Iterator[TaskContext]:
    """Make ``ctx`` what `current_context()` returns while the block runs."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def _redacting(record: logging.LogRecord) -> bool:
    """A log filter that scrubs secret values from the message before it reaches the attempt's log."""
    message = record.getMessage()
    scrubbed = redact(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    return True


def attempt_logger(name: str) -> logging.Logger:
    """A logger that writes to this process's stderr, which is the attempt's ``stderr.log``."""
    logger = logging.getLogger(f"setpoint.task.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(_redacting)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


_deck._SINKS.append(lambda deck: current_context().add_deck(deck))
