"""One prompt per person across projects: when each person's merged private prompt falls due.

A person is (platform, user_id). On a day D, a project counts for them when it is active, unpaused, has
`merged_prompt` on, its daily prompt is due on D (D is a workday of its calendar), they own open tasks
there and its platform can send privately. Someone with two or more such projects gets one private
message at the earliest of those projects' prompt times on D (each project has its own prompt time and
time zone), and the group prompts of those projects name them without the @ (`text.PRIVATELY`).

Exactly once, as every slot: the claim is a `job_run` row (job `person-prompt`, slot `D:user_id`) on each
project it covers, inserted ON CONFLICT DO NOTHING with the outbox row, and the row on the lowest
project id is the one that sends. A slot already recorded on any project is never claimed again (a rerun
whose projects changed meanwhile included), and the group prompt of a covered project reads its row.
Pure functions of the projects, their calendars and a moment; `JobRunner` runs them (scheduler.jobs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from hashlib import sha256
from zoneinfo import ZoneInfo

from models import Project
from models.calendar import WorkCalendar
from scheduler.slots import MISSED_LOOKBACK, prompt_due_at

SLOT_MAX = 80  # job_run.slot


def person_slot(day: date, user_id: str) -> str:
    """The claim's key: the person's day and their id (hashed when that would not fit the column)."""
    key = f"{day.isoformat()}:{user_id}"
    return key if len(key) <= SLOT_MAX else f"{day.isoformat()}:#{sha256(user_id.encode()).hexdigest()[:40]}"


def day_slots(day: date) -> tuple[str, str]:
    """[low, high): every person slot of `day` sorts in it (":" then ";" in ASCII)."""
    return f"{day.isoformat()}:", f"{day.isoformat()};"


@dataclass(frozen=True, slots=True)
class PersonDay:
    """A person's merged prompt on `day`: their projects that count, each with its prompt time, earliest first."""

    platform: str
    user_id: str
    day: date
    times: tuple[tuple[datetime, int], ...]  # (the project's prompt time on `day`, project id)

    @property
    def slot(self) -> str:
        return person_slot(self.day, self.user_id)

    @property
    def due_at(self) -> datetime:
        return self.times[0][0]

    @property
    def project_ids(self) -> tuple[int, ...]:
        return tuple(pid for _, pid in self.times)

    def only(self, project_ids: Iterable[int]) -> PersonDay | None:
        """The same day with only these projects, when two or more are left."""
        keep = set(project_ids)
        times = tuple(t for t in self.times if t[1] in keep)
        return PersonDay(self.platform, self.user_id, self.day, times) if len(times) >= 2 else None


def plan(
    people: Mapping[tuple[str, str], Sequence[Project]],
    calendars: Mapping[int, WorkCalendar],
    at: datetime,
    grace: timedelta,
) -> tuple[list[PersonDay], list[PersonDay]]:
    """(due now, missed): each person's days whose earliest prompt time is due at `at` (due ≤ at < due +
    grace) or was missed (the grace period over, looked for one day back), with two or more projects."""
    due: list[PersonDay] = []
    missed: list[PersonDay] = []
    for (platform, user_id), projects in people.items():
        days = {at.astimezone(ZoneInfo(p.timezone)).date() - timedelta(days=back) for p in projects for back in (0, 1)}
        for day in sorted(days):
            times = sorted(
                (when, p.id) for p in projects if (when := prompt_due_at(p, calendars[p.id], day)) is not None
            )
            if len(times) < 2 or times[0][0] > at:
                continue
            person = PersonDay(platform, user_id, day, tuple(times))
            if at < person.due_at + grace:
                due.append(person)
            elif person.due_at > at - grace - MISSED_LOOKBACK:
                missed.append(person)
    return due, missed


def local_day(project: Project, at: datetime) -> date:
    return at.astimezone(ZoneInfo(project.timezone)).date()
