"""EventBridge Scheduler, locally: the template's schedules fire at their expressions.

When a schedule fires, the scheduler assumes the schedule's role and invokes its target, so
AWS checks that role for ``lambda:InvokeFunction`` on the target's ARN: ``fire`` asks the
same question of the enforcer (``Authority.decide``) before it runs the target, and a
refusal is what AWS would record as a failed invocation. ``every`` (``--compact-every``)
replaces the expression's times for local runs (``events-api dev`` says so).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from .iam.enforcer import Authority
from .iam.policy import NamedDocument, Request
from .template.stack import Role, Schedule

log = logging.getLogger("events_api_cli.scheduler")

_CRON = re.compile(r"^cron\((.+)\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")


class UnsupportedExpression(ValueError):
    pass


def _field(text: str, low: int, high: int) -> set[int] | None:
    """The values a cron field allows (None: any)."""
    if text in {"*", "?"}:
        return None
    values: set[int] = set()
    for part in text.split(","):
        stepped = "/" in part
        part, _, step_text = part.partition("/")
        step = int(step_text) if stepped else 1
        if part in {"*", ""}:
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            # "5/15": from 5, every 15, to the field's end.
            start = int(part)
            end = high if stepped else start
        values.update(range(start, end + 1, step))
    return values


def next_time(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` (UTC) that ``expression`` names: EventBridge
    ``rate(...)`` or ``cron(minutes hours day-of-month month day-of-week year)`` with
    numbers, lists, ranges and steps (names and L/W/# are refused)."""
    rate = _RATE.match(expression)
    if rate:
        unit = rate.group(2).rstrip("s")
        seconds = int(rate.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]
        return after + timedelta(seconds=seconds)
    cron = _CRON.match(expression)
    if not cron:
        raise UnsupportedExpression(expression)
    fields = cron.group(1).split()
    if len(fields) != 6 or re.search(r"[A-Za-z#]", cron.group(1)):
        raise UnsupportedExpression(expression)
    minutes, hours, days, months, weekdays, years = (
        _field(fields[0], 0, 59),
        _field(fields[1], 0, 23),
        _field(fields[2], 1, 31),
        _field(fields[3], 1, 12),
        _field(fields[4], 1, 7),
        _field(fields[5], 1970, 2199),
    )
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        weekday = moment.isoweekday() % 7 + 1  # cron: 1 is Sunday
        if (
            (minutes is None or moment.minute in minutes)
            and (hours is None or moment.hour in hours)
            and (days is None or moment.day in days)
            and (months is None or moment.month in months)
            and (weekdays is None or weekday in weekdays)
            and (years is None or moment.year in years)
        ):
            return moment
        moment += timedelta(minutes=1)
    raise UnsupportedExpression(f"{expression} names no time within a year")


class LocalSchedule(threading.Thread):
    """One schedule: at each time, the role check, then the target."""

    def __init__(
        self,
        schedule: Schedule,
        role: Role,
        authority: Authority,
        target: Callable[[], None],
        every: float | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(name=f"schedule-{schedule.logical_id}", daemon=True)
        self.schedule, self.role, self.authority = schedule, role, authority
        self.target, self.every, self.now = target, every, now
        self._stopping = threading.Event()

    def fire(self) -> bool:
        """One invocation: True when the schedule's role may invoke the target and it ran."""
        if "scheduler.amazonaws.com" not in self.role.trusted_services:
            log.error(
                "%s: the scheduler cannot assume %s (its trust policy does not name "
                "scheduler.amazonaws.com)",
                self.schedule.physical_name,
                self.role.name,
            )
            return False
        policies = [NamedDocument(p.name, p.document) for p in self.role.policies]
        principal = self.authority.principal_for_service(
            self.role.logical_id, self.role.arn, "scheduler", policies
        )
        decision = self.authority.decide(
            principal, "Invoke", Request("lambda:InvokeFunction", self.schedule.target_arn)
        )
        if not decision.allowed:
            log.error(
                "%s: the scheduler could not invoke %s: its role %s does not allow "
                "lambda:InvokeFunction on it (AccessDenied)",
                self.schedule.physical_name,
                self.schedule.target_arn,
                self.role.name,
            )
            return False
        try:
            self.target()
        except Exception:
            log.exception("%s: the target failed", self.schedule.physical_name)
            return False
        return True

    def run(self) -> None:
        while not self._stopping.is_set():
            if self.every is not None:
                wait = self.every
            else:
                now = self.now()
                wait = (next_time(self.schedule.expression, now) - now).total_seconds()
            if self._stopping.wait(max(0.0, wait)):
                return
            self.fire()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
