"""The pure tick computation: cron on a zone's wall clock with daylight saving, fixed rates, catch-up policies.

The daylight-saving tests check `ticks_after` against an independent oracle: every minute of the days
around a transition, enumerated in UTC and read in the zone with zoneinfo, matched against the cron
fields by a small matcher written here (not croniter), with the documented rules applied directly
(an ambiguous wall time fires at its first occurrence; a skipped one at the moment the clocks jump).
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setpoint.errors import SpecError
from setpoint.scheduling.ticks import (
    Cron,
    FixedRate,
    due_ticks,
    latest_tick,
    next_ticks,
    schedule_from_json,
    ticks_after,
    wall_to_instant,
)

UTC = dt.UTC


# -- the oracle ------------------------------------------------------------------------------------


def _field(spec: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = (int(x) for x in rng.split("-"))
        else:
            a = b = int(rng)
        out.update(range(a, b + 1, int(step or 1)))
    return out


def matches(expr: str, t: dt.datetime) -> bool:
    minute, hour, dom, month, dow = expr.split()
    days = _field(dom, 1, 31)
    weekdays = {d % 7 for d in _field(dow, 0, 7)}
    cron_dow = (t.weekday() + 1) % 7  # cron: Sunday is 0
    if dom != "*" and dow != "*":
        day_ok = t.day in days or cron_dow in weekdays
    else:
        day_ok = t.day in days and cron_dow in weekdays
    return (
        t.minute in _field(minute, 0, 59)
        and t.hour in _field(hour, 0, 23)
        and t.month in _field(month, 1, 12)
        and day_ok
    )


def oracle(expr: str, tz: str, first: dt.date, last: dt.date) -> list[int]:
    """Ticks of wall-clock days first..last, by brute force over every minute."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(first, dt.time(), UTC) - dt.timedelta(days=1)
    end = dt.datetime.combine(last, dt.time(), UTC) + dt.timedelta(days=2)
    seen: dict[dt.datetime, int] = {}  # wall time -> first instant showing it
    instants: list[tuple[int, dt.datetime]] = []
    u = start
    while u < end:
        wall = u.astimezone(zone).replace(tzinfo=None)
        instants.append((int(u.timestamp()), wall))
        seen.setdefault(wall, int(u.timestamp()))
        u += dt.timedelta(minutes=1)
    ticks = {t for wall, t in seen.items() if first <= wall.date() <= last and matches(expr, wall)}
    day = first
    while day <= last:  # wall times that never showed: fire at the first instant showing a later one
        w = dt.datetime.combine(day, dt.time())
        while w.date() == day:
            if w not in seen and matches(expr, w):
                ticks.add(next(t for t, shown in instants if shown > w))
            w += dt.timedelta(minutes=1)
        day += dt.timedelta(days=1)
    return sorted(ticks)


def local(t: int, tz: str) -> str:
    return dt.datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(tz)).isoformat()


def window(tz: str, first: dt.date, last: dt.date) -> tuple[int, int]:
    """(just before the first day starts, the last day's end) in epoch seconds, for `ticks_after`."""
    zone = ZoneInfo(tz)
    lo = dt.datetime.combine(first, dt.time(), zone).timestamp() - 1
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).timestamp() - 1
    return int(lo), int(hi)


TRANSITIONS = [
    ("Europe/Berlin", dt.date(2024, 3, 31)),  # 02:00 CET -> 03:00 CEST
    ("Europe/Berlin", dt.date(2024, 10, 27)),  # 03:00 CEST -> 02:00 CET
    ("America/New_York", dt.date(2024, 3, 10)),  # 02:00 EST -> 03:00 EDT
    ("America/New_York", dt.date(2024, 11, 3)),  # 02:00 EDT -> 01:00 EST
]
EXPRESSIONS = ["30 2 * * *", "30 1 * * *", "0 3 * * *", "0 * * * *", "*/15 * * * *", "0,30 1-3 * * *", "45 2 * * 0"]


@pytest.mark.parametrize(("tz", "day"), TRANSITIONS, ids=[f"{tz}-{d}" for tz, d in TRANSITIONS])
@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_daylight_saving_days_match_the_brute_force_oracle(tz: str, day: dt.date, expr: str) -> None:
    first, last = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    lo, hi = window(tz, first, last)
    got = ticks_after(Cron(expr, tz).check(), lo, hi, 10_000)
    want = oracle(expr, tz, first, last)
    assert [local(t, tz) for t in got] == [local(t, tz) for t in want]
    assert len(set(got)) == len(got)  # no instant twice


def test_spring_forward_fires_a_skipped_time_when_the_clocks_jump() -> None:
    lo, hi = window("Europe/Berlin", dt.date(2024, 3, 31), dt.date(2024, 3, 31))
    assert [local(t, "Europe/Berlin") for t in ticks_after(Cron("30 2 * * *", "Europe/Berlin"), lo, hi, 9)] == [
        "2024-03-31T03:00:00+02:00"
    ]
    # Every skipped quarter collapses into the one tick at the jump.
    quarters = ticks_after(Cron("*/15 1-3 * * *", "Europe/Berlin"), lo, hi, 99)
    assert [local(t, "Europe/Berlin")[11:] for t in quarters] == [
        "01:00:00+01:00",
        "01:15:00+01:00",
        "01:30:00+01:00",
        "01:45:00+01:00",
        "03:00:00+02:00",
        "03:15:00+02:00",
        "03:30:00+02:00",
        "03:45:00+02:00",
    ]


def test_fall_back_fires_an_ambiguous_time_once_at_its_first_occurrence() -> None:
    lo, hi = window("America/New_York", dt.date(2024, 11, 3), dt.date(2024, 11, 3))
    got = ticks_after(Cron("30 1 * * *", "America/New_York"), lo, hi, 9)
    assert [local(t, "America/New_York") for t in got] == ["2024-11-03T01:30:00-04:00"]
    hourly = ticks_after(Cron("0 0-3 * * *", "America/New_York"), lo, hi, 99)
    assert [local(t, "America/New_York") for t in hourly] == [
        "2024-11-03T00:00:00-04:00",
        "2024-11-03T01:00:00-04:00",  # 01:00 EST, an hour later, is the same wall time: not again
        "2024-11-03T02:00:00-05:00",
        "2024-11-03T03:00:00-05:00",
    ]


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_a_daily_schedule_fires_once_on_every_day_of_a_year(tz: str) -> None:
    lo, hi = window(tz, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    for expr in ("30 2 * * *", "0 0 * * *", "15 1 * * *"):
        ticks = ticks_after(Cron(expr, tz), lo, hi, 1000)
        days = [dt.datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(tz)).date() for t in ticks]
        assert len(days) == 366 and len(set(days)) == 366, (expr, tz)
        assert ticks == sorted(set(ticks))


def test_wall_to_instant_follows_the_rules() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    jump = int(dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC).timestamp())
    assert wall_to_instant(dt.datetime(2024, 3, 31, 2, 0), berlin) == jump
    assert wall_to_instant(dt.datetime(2024, 3, 31, 2, 59), berlin) == jump
    assert wall_to_instant(dt.datetime(2024, 3, 31, 3, 0), berlin) == jump
    first = int(dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC).timestamp())  # 02:30 CEST
    assert wall_to_instant(dt.datetime(2024, 10, 27, 2, 30), berlin) == first


@pytest.mark.parametrize(("tz", "day"), TRANSITIONS, ids=[f"{tz}-{d}" for tz, d in TRANSITIONS])
def test_latest_and_next_agree_with_the_forward_enumeration(tz: str, day: dt.date) -> None:
    c = Cron("*/20 * * * *", tz)
    lo, hi = window(tz, day, day)
    ticks = ticks_after(c, lo, hi, 1000)
    for a, b in itertools.pairwise(ticks):
        assert latest_tick(c, a) == a
        assert latest_tick(c, b - 1) == a
        assert next_ticks(c, a, 1) == [b]
    assert next_ticks(c, lo, 5) == ticks[:5]


# -- fixed rate -------------------------------------------------------------------------------------


def test_a_fixed_rate_fires_at_multiples_of_its_interval_since_the_epoch() -> None:
    r = FixedRate(minutes=30)
    assert r.interval == 1800
    assert ticks_after(r, 1800, 9000, 99) == [3600, 5400, 7200, 9000]
    assert ticks_after(r, 1799.5, 3600, 99) == [1800, 3600]
    assert ticks_after(r, 0, 1_000_000, 2) == [1800, 3600]
    assert latest_tick(r, 5399.9) == 3600
    assert next_ticks(r, 3600, 2) == [5400, 7200]
    assert FixedRate(dt.timedelta(hours=1), seconds=30).interval == 3630
    assert FixedRate(seconds=5) == FixedRate(dt.timedelta(seconds=5))


# -- catch-up policies ------------------------------------------------------------------------------

RATE = 600  # ticks every 10 minutes


@pytest.mark.parametrize(
    ("policy", "now", "want", "skipped"),
    [
        # down from 1000 (last tick fired at 600) until 3650: ticks 1200..3600 were missed
        ("all", 3650, (1200, 1800, 2400, 3000, 3600), False),
        ("latest", 3650, (3600,), True),
        ("none", 3650, (3600,), True),  # 50 s late: within the grace
        ("none", 3700, (), True),  # 100 s late: skipped
        ("latest", 1250, (1200,), False),
        ("all", 1199, (), False),
    ],
)
def test_catch_up_after_downtime(policy: str, now: float, want: tuple[int, ...], skipped: bool) -> None:
    due = due_ticks(FixedRate(seconds=RATE, catch_up=policy), activated_at=0, last_fired=600, now=now, grace=60)
    assert due.fire == want
    assert due.skipped == skipped


def test_nothing_before_the_activation_or_at_or_before_the_last_tick_is_due() -> None:
    r = FixedRate(seconds=RATE, catch_up="all")
    assert due_ticks(r, activated_at=1300, last_fired=None, now=2500, grace=60).fire == (1800, 2400)
    assert due_ticks(r, activated_at=1800, last_fired=None, now=2500, grace=60).fire == (2400,)
    # The clock went back before the last tick fired: nothing again.
    assert due_ticks(r, activated_at=0, last_fired=2400, now=1000, grace=60).fire == ()
    assert due_ticks(r, activated_at=0, last_fired=2400, now=2400, grace=60).fire == ()
    latest = FixedRate(seconds=RATE, catch_up="latest")
    assert due_ticks(latest, activated_at=0, last_fired=2400, now=2999, grace=60).fire == ()


def test_catch_up_all_fires_a_bounded_batch_per_pass() -> None:
    r = FixedRate(seconds=1, catch_up="all")
    due = due_ticks(r, activated_at=0, last_fired=None, now=10_000, grace=60, limit=100)
    assert due.fire == tuple(range(1, 101))
    nxt = due_ticks(r, activated_at=0, last_fired=100, now=10_000, grace=60, limit=100)
    assert nxt.fire[0] == 101


# -- declaration errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (Cron("0 3 * *"), r"has 4 fields; give five"),
        (Cron("0 3 * * * *"), r"has 6 fields; give five .*for seconds use FixedRate"),
        (Cron("61 3 * * *"), r"invalid cron expression '61 3 \* \* \*'"),
        (Cron("0 3 30 2 *"), r"never matches a date"),
        (Cron("@fortnightly"), r"unknown cron macro"),
        (Cron(""), r"non-empty string"),
        (Cron("0 3 * * *", tz="Mars/Olympus"), r"unknown time zone 'Mars/Olympus'"),
        (Cron("0 3 * * *", tz="../etc/passwd"), r"unknown time zone"),
        (Cron("0 3 * * *", catch_up="some"), r"catch_up must be one of all, latest, none"),
        (FixedRate(seconds=0.5), r"whole number of seconds, at least 1"),
        (FixedRate(), r"at least 1"),
        (FixedRate(seconds=10, kickoff_time_input_arg="not an identifier"), r"kickoff_time_input_arg"),
    ],
)
def test_bad_schedules_are_refused_naming_where(schedule: Cron | FixedRate, message: str) -> None:
    with pytest.raises(SpecError, match=r"^launch plan 'nightly': .*" + message):
        schedule.check("launch plan 'nightly'")


def test_macros_and_json_round_trips() -> None:
    for s in (Cron("@daily", "Europe/Berlin"), Cron("*/5 9-17 * * 1-5", "UTC", "all", "when"), FixedRate(hours=1)):
        s.check()
        assert schedule_from_json(s.to_json()) == s
    assert schedule_from_json(None) is None
    with pytest.raises(SpecError, match="kind is 'cron' or 'rate'"):
        schedule_from_json({"kind": "weekly"})
    with pytest.raises(SpecError, match="needs 'seconds'"):
        schedule_from_json({"kind": "rate", "seconds": "10"})


# -- the level-triggered loop under random clock moves ------------------------------------------------

FALL_BACK = int(dt.datetime(2024, 10, 27, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp())


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    policy=st.sampled_from(["all", "latest", "none"]),
    cron=st.booleans(),
    rate=st.sampled_from([60, 600, 3600]),
    moves=st.lists(st.integers(-4 * 3600, 4 * 3600), min_size=1, max_size=25),
)
def test_random_clock_moves_never_fire_a_tick_twice(policy: str, cron: bool, rate: int, moves: list[int]) -> None:
    """Drive `due_ticks` like the scheduler does (the record is the list of ticks fired) through jumps both ways."""
    schedule: Cron | FixedRate = (
        Cron("*/10 1-3 * * *", "Europe/Berlin", catch_up=policy) if cron else FixedRate(seconds=rate, catch_up=policy)
    )
    activated = FALL_BACK
    now = float(activated)
    highest = now
    fired: list[int] = []
    for move in moves:
        now += move
        highest = max(highest, now)
        due = due_ticks(
            schedule, activated_at=activated, last_fired=fired[-1] if fired else None, now=now, grace=60, limit=10_000
        )
        for t in due.fire:
            assert activated < t <= now
            assert not fired or t > fired[-1]  # never again, never out of order
            if policy == "none":
                assert now - t <= 60
        if policy != "all":
            assert len(due.fire) <= 1
            assert not due.fire or due.fire[0] == latest_tick(schedule, now)
        fired += due.fire
    if policy == "all":  # every tick up to the furthest the clock went, each once
        assert fired == ticks_after(schedule, activated, highest, 100_000)
