"""Schedules of launch plans, and which nominal ticks they have: pure functions of the schedule and the time.

A launch plan may carry a `Cron` schedule (five cron fields read on the wall clock of an IANA time
zone) or a `FixedRate` (every N seconds), plus a **catch-up policy** saying what happens to ticks
missed while no scheduler ran: ``"all"`` fires every one of them, ``"latest"`` (the default) only
the most recent, ``"none"`` none (only a tick seen within a grace period of its nominal time fires).

Everything here is a function of its arguments: no clock reads, no store, no threads, so the
scheduler's decisions are tested with tables and an injected clock. Ticks are whole seconds since
the Unix epoch (UTC). croniter parses and matches the cron fields, always on *naive* wall-clock
times, so its own handling of time zones never comes into play; mapping a wall-clock time to an
instant follows the explicit daylight-saving rules of `wall_to_instant`:

- a wall-clock time that exists once is that instant;
- a time that occurs twice (clocks fall back) fires once, at its **first** occurrence;
- a time that does not exist (clocks spring forward) fires once, **at the moment the clocks jump**
  (02:30 on a day Berlin goes from 02:00 CET to 03:00 CEST fires at 03:00 CEST), and several skipped
  times collapse into that one tick.

So a daily schedule fires exactly once every day, and the ticks are in the same order as the wall
times they come from. croniter is imported lazily: ``import setpoint`` stays light.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from setpoint.errors import SpecError

if TYPE_CHECKING:
    from setpoint.spec.workflow import Interface

CATCH_UP_POLICIES = ("all", "latest", "none")
DEFAULT_CATCH_UP = "latest"
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
UTC = dt.UTC

# Around an instant, the UTC offsets of a zone are sampled this far either side to bound where the
# matching wall-clock times can be (no zone has changed its offset twice within a day).
_OFFSET_WINDOW = dt.timedelta(hours=36)


def _check_common(catch_up: str, kickoff: str | None, where: str) -> None:
    if catch_up not in CATCH_UP_POLICIES:
        raise SpecError(f"{where}: catch_up must be one of {', '.join(CATCH_UP_POLICIES)}, got {catch_up!r}")
    if kickoff is not None and (not isinstance(kickoff, str) or not kickoff.isidentifier()):
        raise SpecError(f"{where}: kickoff_time_input_arg must be the name of a workflow input, got {kickoff!r}")


@dataclass(frozen=True, slots=True)
class Cron:
    """Fire at every wall-clock time in ``tz`` that matches ``expression`` (five fields, or @daily etc.).

    ``kickoff_time_input_arg`` names a ``datetime`` input of the workflow that receives each tick's
    nominal time (timezone-aware, UTC), as in Flyte.
    """

    expression: str
    tz: str = "UTC"
    catch_up: str = DEFAULT_CATCH_UP
    kickoff_time_input_arg: str | None = None

    def check(self, where: str = "cron schedule") -> Cron:
        """Self, or a `SpecError` naming ``where`` and what is wrong."""
        from croniter import CroniterBadDateError, CroniterError, croniter

        expr = self.expression
        if not isinstance(expr, str) or not expr.strip():
            raise SpecError(f"{where}: a cron expression is a non-empty string, got {expr!r}")
        fields = expr.split()
        if fields[0].startswith("@"):
            if len(fields) != 1 or fields[0].lower() not in MACROS:
                raise SpecError(f"{where}: unknown cron macro {expr!r} (known: {', '.join(MACROS)})")
        elif len(fields) != 5:
            raise SpecError(
                f"{where}: cron expression {expr!r} has {len(fields)} fields; give five "
                "(minute hour day-of-month month day-of-week), e.g. '0 3 * * *'; for seconds use FixedRate"
            )
        try:
            croniter(expr, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
        except CroniterBadDateError:
            raise SpecError(f"{where}: cron expression {expr!r} never matches a date") from None
        except (CroniterError, ValueError, KeyError) as e:
            raise SpecError(f"{where}: invalid cron expression {expr!r}: {e}") from None
        zone(self.tz, where)
        _check_common(self.catch_up, self.kickoff_time_input_arg, where)
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "cron",
            "cron": self.expression,
            "tz": self.tz,
            "catch_up": self.catch_up,
            "kickoff_time_input_arg": self.kickoff_time_input_arg,
        }

    def describe(self) -> str:
        return f"cron '{self.expression}' {self.tz}"


def CronSchedule(
    schedule: str | None = None,
    kickoff_time_input_arg: str | None = None,
    *,
    cron_expression: str | None = None,
    offset: str | None = None,
    tz: str = "UTC",
    catch_up: str = DEFAULT_CATCH_UP,
) -> Cron:
    """flytekit's ``CronSchedule(schedule="0 3 * * *", kickoff_time_input_arg="t")``: a `Cron` in ``tz``.

    ``cron_expression`` is flytekit's older spelling of ``schedule``. ``offset`` (an ISO 8601
    duration that shifts every tick) has no counterpart: it is refused with what to do instead.
    """
    if schedule is not None and cron_expression is not None:
        raise SpecError("CronSchedule: give schedule= or cron_expression=, not both")
    expression = schedule if schedule is not None else cron_expression
    if expression is None:
        raise SpecError("CronSchedule: schedule= is required, e.g. CronSchedule(schedule='0 3 * * *')")
    if offset is not None:
        raise SpecError(
            f"CronSchedule: offset={offset!r} is not supported; shift the cron expression itself "
            "(or give tz= to read it in another time zone)"
        )
    return Cron(expression, tz, catch_up, kickoff_time_input_arg)


class FixedRate:
    """Fire every ``interval`` (whole seconds, at least one): at the multiples of it since 1970-01-01 UTC.

    ``FixedRate(minutes=30)`` fires at :00 and :30 of every hour (UTC), whenever it was activated;
    aligning to the epoch instead of the activation time gives every tick the same identity in
    every scheduler, before and after a restart.
    """

    __slots__ = ("catch_up", "kickoff_time_input_arg", "seconds")

    def __init__(
        self,
        duration: dt.timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        catch_up: str = DEFAULT_CATCH_UP,
        kickoff_time_input_arg: str | None = None,
    ) -> None:
        if duration is not None and not isinstance(duration, dt.timedelta):
            raise SpecError(f"FixedRate takes a timedelta or days=/hours=/minutes=/seconds=, got {duration!r}")
        total = (duration or dt.timedelta()) + dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        self.seconds = total.total_seconds()
        self.catch_up = catch_up
        self.kickoff_time_input_arg = kickoff_time_input_arg

    def check(self, where: str = "fixed-rate schedule") -> FixedRate:
        if self.seconds < 1 or self.seconds != int(self.seconds):
            raise SpecError(f"{where}: a fixed rate is a whole number of seconds, at least 1; got {self.seconds}s")
        _check_common(self.catch_up, self.kickoff_time_input_arg, where)
        return self

    @property
    def interval(self) -> int:
        return int(self.seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "rate",
            "seconds": self.interval,
            "catch_up": self.catch_up,
            "kickoff_time_input_arg": self.kickoff_time_input_arg,
        }

    def describe(self) -> str:
        return f"every {dt.timedelta(seconds=self.interval)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixedRate) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.seconds, self.catch_up, self.kickoff_time_input_arg))

    def __repr__(self) -> str:
        kick = f", kickoff_time_input_arg={self.kickoff_time_input_arg!r}" if self.kickoff_time_input_arg else ""
        return f"FixedRate(seconds={self.seconds:g}, catch_up={self.catch_up!r}{kick})"


Schedule = Cron | FixedRate


def zone(name: str, where: str = "schedule") -> ZoneInfo:
    """The IANA time zone ``name``, or a `SpecError` naming ``where``."""
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: the time zone is an IANA name such as 'Europe/Berlin', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SpecError(f"{where}: unknown time zone {name!r} (give an IANA name such as 'Europe/Berlin')") from None


def schedule_from_json(data: Mapping[str, Any] | None, where: str = "schedule") -> Schedule | None:
    """The schedule a registered launch plan's body holds (validated), or None without one."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: a schedule is a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    catch_up = data.get("catch_up", DEFAULT_CATCH_UP)
    kickoff = data.get("kickoff_time_input_arg")
    if kind == "cron":
        return Cron(data.get("cron"), data.get("tz", "UTC"), catch_up, kickoff).check(where)  # type: ignore[arg-type]
    if kind == "rate":
        secs = data.get("seconds")
        if isinstance(secs, bool) or not isinstance(secs, int | float):
            raise SpecError(f"{where}: a fixed rate needs 'seconds' (a number), got {secs!r}")
        return FixedRate(seconds=secs, catch_up=catch_up, kickoff_time_input_arg=kickoff).check(where)
    raise SpecError(f"{where}: a schedule's kind is 'cron' or 'rate', got {kind!r}")


# -- daylight saving: from wall-clock times to instants -------------------------------------------


def _instant(t: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, UTC)


def _seconds(d: dt.datetime) -> int:
    return int(d.timestamp())


def wall_to_instant(wall: dt.datetime, tz: ZoneInfo) -> int:
    """The tick (epoch seconds) of a naive wall-clock time in ``tz``, by the rules in the module docstring."""
    first = wall.replace(tzinfo=tz, fold=0)  # PEP 495: fold=0 is the earlier of two, the pre-gap offset in a gap
    t = _seconds(first)
    if _instant(t).astimezone(tz).replace(tzinfo=None) == wall:
        return t  # exists (once, or first of two)
    # In a gap: the clocks jumped somewhere between the two readings of ``wall``; fire at the jump.
    lo = _seconds(wall.replace(tzinfo=tz, fold=1))  # read with the post-gap offset: before the jump
    hi = t  # read with the pre-gap offset: after the jump
    lo, hi = min(lo, hi), max(lo, hi)
    offset_lo = _instant(lo).astimezone(tz).utcoffset()
    while hi - lo > 1:  # the jump is the first second whose offset differs from lo's
        mid = (lo + hi) // 2
        if _instant(mid).astimezone(tz).utcoffset() == offset_lo:
            lo = mid
        else:
            hi = mid
    return hi


# -- enumerating ticks ------------------------------------------------------------------------------


def _offset_bounds(tz: ZoneInfo, around: int) -> tuple[dt.timedelta, dt.timedelta]:
    centre = _instant(around)
    offsets = []
    for delta in (-_OFFSET_WINDOW, -_OFFSET_WINDOW / 2, dt.timedelta(), _OFFSET_WINDOW / 2, _OFFSET_WINDOW):
        off = (centre + delta).astimezone(tz).utcoffset()
        assert off is not None
        offsets.append(off)
    return min(offsets), max(offsets)


def _cron_forward(c: Cron, after: int) -> Iterator[int]:
    """Ticks strictly after ``after``, ascending, without end."""
    from croniter import croniter

    tz = zone(c.tz)
    low, _ = _offset_bounds(tz, after)
    # No wall time before (after + smallest offset) - 1 minute can map to an instant after ``after``.
    start = (_instant(after) + low).replace(tzinfo=None) - dt.timedelta(minutes=1)
    it = croniter(c.expression, start)
    last = after
    while True:
        t = wall_to_instant(it.get_next(dt.datetime), tz)
        if t > last:
            last = t
            yield t


def _cron_latest(c: Cron, at: int) -> int | None:
    """The last tick at or before ``at`` (None if there is none in the last few centuries)."""
    from croniter import CroniterBadDateError, croniter

    tz = zone(c.tz)
    _, high = _offset_bounds(tz, at)
    start = (_instant(at) + high).replace(tzinfo=None) + dt.timedelta(minutes=1)
    it = croniter(c.expression, start)
    try:
        while True:
            t = wall_to_instant(it.get_prev(dt.datetime), tz)
            if t <= at:
                return t
    except CroniterBadDateError:
        return None


def ticks_after(schedule: Schedule, after: float, until: float, limit: int) -> list[int]:
    """The nominal ticks t with ``after < t <= until``, oldest first, at most ``limit`` of them."""
    out: list[int] = []
    if limit <= 0 or until <= after:
        return out
    if isinstance(schedule, FixedRate):
        step = schedule.interval
        t = (int(after // step) + 1) * step
        while t <= until and len(out) < limit:
            out.append(t)
            t += step
        return out
    for t in _cron_forward(schedule, int(after // 1)):
        if t > until or len(out) >= limit:
            break
        if t > after:
            out.append(t)
    return out


def latest_tick(schedule: Schedule, at: float) -> int | None:
    """The last nominal tick at or before ``at``."""
    if isinstance(schedule, FixedRate):
        return int(at // schedule.interval) * schedule.interval
    return _cron_latest(schedule, int(at // 1))


def next_ticks(schedule: Schedule, after: float, count: int) -> list[int]:
    """The next ``count`` ticks strictly after ``after`` (what `setpoint launchplan get` shows)."""
    if isinstance(schedule, FixedRate):
        return ticks_after(schedule, after, after + schedule.interval * count, count)
    out = []
    for t in _cron_forward(schedule, int(after // 1)):
        if t > after:
            out.append(t)
        if len(out) >= count:
            break
    return out


# -- what is due ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    """What one scheduler pass should fire for one launch plan, oldest first."""

    fire: tuple[int, ...]
    skipped: bool = False  # missed ticks were left out by the catch-up policy


def due_ticks(
    schedule: Schedule,
    *,
    activated_at: float,
    last_fired: int | None,
    now: float,
    grace: float,
    limit: int = 100,
) -> Due:
    """Which ticks to fire now, from the schedule and the record alone (level-triggered).

    Only ticks after the activation and after the last tick fired are candidates, so a clock that
    jumps back never re-fires one. ``all`` fires the missed ticks oldest first, ``limit`` per pass;
    ``latest`` only the newest tick due; ``none`` the newest tick only if it is at most ``grace``
    seconds old.
    """
    since = activated_at if last_fired is None else max(activated_at, last_fired)
    if now <= since:
        return Due(())
    if schedule.catch_up == "all":
        return Due(tuple(ticks_after(schedule, since, now, limit)))
    newest = latest_tick(schedule, now)
    if newest is None or newest <= since:
        return Due(())
    older = bool(ticks_after(schedule, since, newest - 1, 1))
    if schedule.catch_up == "none" and now - newest > grace:
        return Due((), skipped=True)
    return Due((newest,), skipped=older)


def check_for_workflow(
    schedule: Schedule, iface: Interface, defaults: Collection[str], fixed: Collection[str], where: str
) -> None:
    """A scheduled launch plan must start with no one giving inputs: `SpecError` naming what is missing.

    The kickoff input, if any, must be a ``datetime`` input of the workflow that the launch plan does
    not fix; every other input needs a default (the workflow's or the launch plan's) or a fixed value.
    """
    from setpoint.spec.types import TypeKind

    declared = iface.input_map
    kickoff = schedule.kickoff_time_input_arg
    if kickoff is not None:
        var = declared.get(kickoff)
        if var is None:
            raise SpecError(
                f"{where}: kickoff_time_input_arg {kickoff!r} is not an input of the workflow "
                f"(inputs: {', '.join(declared) or 'none'})"
            )
        if var.type.kind is not TypeKind.DATETIME:
            raise SpecError(f"{where}: kickoff_time_input_arg {kickoff!r} must be a datetime input, not {var.type}")
        if kickoff in fixed:
            raise SpecError(f"{where}: input {kickoff!r} receives the tick time, so it cannot be fixed")
    missing = [n for n, v in iface.inputs if not (v.has_default or n in defaults or n in fixed or n == kickoff)]
    if missing:
        raise SpecError(
            f"{where}: a scheduled launch plan needs a value for every input; give "
            f"{', '.join(repr(m) for m in missing)} a default or fixed input (or name it as kickoff_time_input_arg)"
        )
