"""The daily cap on reminders per person across all their projects: which reminders go, which wait.

A person is (platform, user_id). Reminders to them (a task's or an action item's: due by the next
workday, due today, overdue) beyond `cap` on a local day, counted over every project they are in, are
not sent; they are *folded* into their next daily prompt instead. Escalations and the items of someone
on leave go to the PM and are never capped. A project with its cap switched off (`project.reminder_cap`)
always sends its reminders, and they still count toward the person's day.

When capped, the most urgent go first: overdue, then due today, then due soon; within each, tasks
before action items, then the earlier due date, then the project and the number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from reports.rows import Incident
from reports.rules import DATED_REMINDERS, DUE_TODAY_JOBS, OVERDUE_JOBS

CAPPED_JOBS = DATED_REMINDERS  # reminders to a person; escalations and leave cover are for the PM
Person = tuple[str, str, date]  # (platform, user_id, the project's local day)
Key = tuple[int, str, str]  # a JobRun key: (project, job, slot)


def tier(due: date, today: date) -> int:
    """0 overdue, 1 due today, 2 due later."""
    return 0 if due < today else 1 if due == today else 2


def _job_tier(job: str) -> int:
    return 0 if job in OVERDUE_JOBS else 1 if job in DUE_TODAY_JOBS else 2


def incident_key(incident: Incident) -> Key:
    item = incident.task or incident.action
    if item is None:
        raise ValueError(f"{incident.job}:{incident.key} is no task's or action item's reminder")
    return (item.project_id, incident.job, incident.key)


def rank(incident: Incident) -> tuple[int, int, date, int, int]:
    """The order reminders go in when capped (most urgent first)."""
    item = incident.task or incident.action
    if item is None:
        raise ValueError(f"{incident.job}:{incident.key} is no task's or action item's reminder")
    return (_job_tier(incident.job), incident.action is not None, item.due_date or date.max, item.project_id, item.number)


def is_capped_kind(incident: Incident) -> bool:
    return incident.owner is not None and incident.job in CAPPED_JOBS


@dataclass(frozen=True, slots=True)
class Candidate:
    """A reminder not claimed yet, to a person on a platform; `capped`: its project holds it to the cap."""

    platform: str
    incident: Incident
    capped: bool

    @property
    def person(self) -> Person:
        assert self.incident.owner is not None
        return (self.platform, self.incident.owner.user_id, self.incident.today)


def over_cap(candidates: Iterable[Candidate], sent: Mapping[Person, int], cap: int) -> set[Key]:
    """The keys of the candidates to fold, given what each person was sent already that day (0: no cap)."""
    if cap <= 0:
        return set()
    by_person: defaultdict[Person, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        if is_capped_kind(candidate.incident):
            by_person[candidate.person].append(candidate)
    folded: set[Key] = set()
    for person, items in by_person.items():
        used = sent.get(person, 0) + sum(not c.capped for c in items)  # always sent, still counted
        for candidate in sorted((c for c in items if c.capped), key=lambda c: rank(c.incident)):
            if used < cap:
                used += 1
            else:
                folded.add(incident_key(candidate.incident))
    return folded
