"""The scheduler's units of work: what is due at T for a batch of projects → build → claim → outbox.

Exactly once: every posting is keyed by a JobRun row (project, job, slot). The rows of a batch are
inserted with ON CONFLICT DO NOTHING ... RETURNING in the same transaction as the outbox rows they
allow, so a slot claimed by another process (or by an earlier run, or a `tandem jobs run`) is simply
not returned and nothing is enqueued for it; a failed transaction leaves neither. The rows are inserted
in key order, so two schedulers racing on PostgreSQL wait for each other instead of deadlocking.

Each batch of projects costs a constant number of statements, whatever their members and tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.messages import Reply
from models import Handover, JobRun, Leave, Project, ProjectStatus, hand_backs_due, leaves_to_hand_over, registers
from models.calendar import NationalCalendar, WorkCalendar, chunked, load_calendars, national_calendar
from models.card_views import job_origin
from models.leave import propose_handovers
from models.people import owners_in_several
from models.rhythm import record_agenda
from models.schedule import (
    FOLDED,
    claimed_incidents,
    claimed_slots,
    lock_reminder_cap,
    mark_folded_shown,
    reminders_sent,
)
from models.slips import record_slip_news
from reports import builders, compute, pictures, reminder_cap, slips, text, text_person, text_reminders
from reports.closeout import retro_prompt
from reports.holidays import holiday_notice, long_holiday_after
from reports.plan import load_plan
from reports.rows import Agenda, DailyPrompt, Incident, OwnerTasks, PersonPrompt
from reports.rules import escalation_recipients, managers
from reports.snapshot import Snapshot
from reports.text_leave import hand_back_proposal, handover_proposal
from scheduler import person_prompt
from scheduler.claims import EMPTY, POSTED, SKIPPED, SUPERSEDED, Claim, OutboxBatch, Post, RunReport
from scheduler.person_prompt import person_slot
from scheduler.posting import ROUTE_MARGIN, reply_routes
from scheduler.slots import (
    AGENDA,
    CALENDAR_NOTICE,
    DAILY_PROMPT,
    DEFAULT_GRACE,
    DIGEST,
    HOLIDAY_NOTICE,
    KINDS,
    MINUTES,
    NUDGE,
    PERSON_PROMPT,
    REMINDERS,
    RETRO_PROMPT,
    SLIP_CHECK,
    WEEKLY_DIGEST,
    Slot,
    in_working_hours,
    retro_window,
    timed_slots,
)

log = logging.getLogger(__name__)

__all__ = ["EMPTY", "POSTED", "SKIPPED", "SUPERSEDED", "JobRunner", "RunReport"]
WITHHELD = "withheld"  # a PM digest on a platform that cannot send it privately (a PM asks with /汇总)
PM_ONLY = (DIGEST, WEEKLY_DIGEST)  # who did and did not update: for the PMs' eyes only

BATCH = 500  # projects per unit of work
RETRO_LOOKBACK = timedelta(days=21)  # closed this recently: three workdays after it, even over 春节
LEAVE_HANDOVER = "leave-handover"  # stand-ins proposed before a leave; slot: the leave's id
LEAVE_HAND_BACK = "leave-hand-back"  # after a leave, what stand-ins still cover; slot: the leave's id


class JobRunner:
    """Runs the jobs of some kinds "as if at T" for every active project (or the given ones)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock = utcnow,
        grace: timedelta = DEFAULT_GRACE,
        national: NationalCalendar | None = None,
        batch: int = BATCH,
        private_platforms: Collection[str] = (),
        reply_route_platforms: Collection[str] = (),
        reminder_cap: int = 0,
    ) -> None:
        """`private_platforms`: where a member can get a private message (PM digests go there privately;
        elsewhere to the group); `reply_route_platforms`: where only a reply route (the group's latest
        live sessionWebhook) can @ people, so posts that mention anyone borrow one when there is one —
        the platforms' own capabilities, given by the composition root; `reminder_cap`: reminders per person
        and day across all their projects (`reports.reminder_cap`; 0: no cap)."""
        self._session_factory = session_factory
        self._private_platforms = frozenset(private_platforms)
        self._reply_route_platforms = frozenset(reply_route_platforms)
        self._clock = clock
        self.grace = grace
        self._national = national or national_calendar()
        self._batch = batch
        self._reminder_cap = max(reminder_cap, 0)

    def run(self, kinds: Iterable[str], at: datetime, *, project_ids: Collection[int] | None = None) -> RunReport:
        if at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware")
        jobs = [job for kind in kinds for job in KINDS[kind]]
        report = RunReport(at)
        if RETRO_PROMPT in jobs:
            jobs.remove(RETRO_PROMPT)
            self._run_retro_prompts(at, project_ids, report)
        if PERSON_PROMPT in jobs:  # before the group prompts, which read whom it covered
            jobs.remove(PERSON_PROMPT)
            try:
                self._run_person_prompts(at, project_ids, report)
            except Exception:
                log.exception("scheduler: merged private prompts failed at %s", at.isoformat())
                report.errors += 1
        if not jobs:
            return report
        with self._session_factory() as session:
            query = select(Project.id).where(Project.status == ProjectStatus.ACTIVE, Project.paused.is_(False))
            if project_ids is not None:
                query = query.where(Project.id.in_(list(project_ids)))
            ids = list(session.scalars(query.order_by(Project.id)))
        for batch in chunked(ids, self._batch):
            try:
                self._run_batch(jobs, at, batch, report)
            except Exception:
                if len(batch) == 1:
                    log.exception("scheduler: project %s failed at %s", batch[0], at.isoformat())
                    report.errors += 1
                    continue
                log.exception("scheduler: a batch of %d projects failed; retrying them one by one", len(batch))
                for project_id in batch:
                    try:
                        self._run_batch(jobs, at, [project_id], report)
                    except Exception:
                        log.exception("scheduler: project %s failed at %s", project_id, at.isoformat())
                        report.errors += 1
        return report

    # ------------------------------------------------------------------ one unit of work

    def _run_batch(self, jobs: Sequence[str], at: datetime, ids: list[int], report: RunReport) -> None:
        local_report = RunReport(at)
        with self._session_factory.begin() as session:
            if REMINDERS in jobs and self._reminder_cap:
                # First, before anything is written: who was sent what today is read and decided on alone.
                lock_reminder_cap(session)
            projects = list(
                session.scalars(
                    select(Project)
                    .where(Project.id.in_(ids), Project.status == ProjectStatus.ACTIVE, Project.paused.is_(False))
                    .order_by(Project.id)
                )
            )
            if not projects:
                return
            calendars = load_calendars(session, project_ids=[p.id for p in projects], national=self._national)
            timed = [j for j in jobs if j != REMINDERS]
            plans = {p.id: timed_slots(p, calendars[p.id], timed, at, self.grace) for p in projects}
            existing = self._existing(session, plans)
            privately = self._prompted_privately(session, projects, plans)
            reminding = {p.id for p in projects if REMINDERS in jobs and in_working_hours(p, calendars[p.id], at)}
            # Rows are loaded only for the projects that have something to build now.
            data = Snapshot(session, [p.id for p in projects if self._has_work(p, plans, existing, reminding, calendars)], at=at)
            hand_backs = self._hand_backs_due(session, [p for p in projects if p.id in reminding], at)
            claims: list[Claim] = []
            incidents: dict[int, list[Incident]] = {}
            for project in projects:
                try:
                    claims += self._plan_project(
                        session, project, calendars[project.id], data, at, plans[project.id], existing, local_report,
                        privately.get(project.id, {}),
                    )
                    if project.id in reminding:
                        incidents[project.id] = compute.find_reminders(
                            session, project, at, data=data, calendar=calendars[project.id]
                        )
                    claims += self._calendar_notices(project, calendars[project.id], data)
                    if project.id in reminding:
                        claims += self._handovers(session, project, calendars[project.id], at)
                        claims += self._hand_backs(session, project, hand_backs, at)
                except Exception:
                    log.exception("scheduler: building for project %s failed at %s", project.id, at.isoformat())
                    local_report.errors += 1
            by_id = {p.id: p for p in projects}
            claims += self._reminder_claims(session, by_id, incidents)
            claimed = self._claim(session, claims)
            sending = claimed - {c.key for c in claims if c.outcome == FOLDED}
            outbox = OutboxBatch(session, self._reply_routes(session, projects, claims, incidents, sending))
            skipped: list[Claim] = []
            shown: list[int] = []
            for project_id, found in incidents.items():
                self._post_reminders(outbox, by_id[project_id], found, sending, data, at, local_report)
            for claim in claims:
                if claim.key not in claimed:
                    local_report.add(claim.job, "already")
                    continue
                project = by_id[claim.project_id]
                if claim.outcome == SKIPPED:
                    skipped.append(claim)
                    local_report.add(claim.job, SKIPPED, f"跳过（错过宽限期）：项目 {project.id} {claim.job} {claim.slot}")
                    continue
                for post in claim.posts:
                    self._enqueue(outbox, project, claim, post, data)
                if claim.agenda is not None and claim.agenda.meeting is not None:
                    # The next agenda's 上周完成 starts where this one's window ended.
                    record_agenda(
                        session, project_id=project.id, meeting_day=claim.agenda.meeting, built_at=at,
                        covers_from=claim.agenda.covers_from,
                    )
                shown += claim.folded_runs
                line = f"已发送：项目 {project.id} {claim.job} {claim.slot}" if claim.posts else None
                if claim.outcome == FOLDED:
                    line = f"超过每日提醒上限，留到下次日报：项目 {project.id} {claim.job} {claim.slot}"
                local_report.add(claim.job, claim.outcome, line)
            if shown:
                mark_folded_shown(session, shown)
            outbox.flush()
        if skipped:
            examples = ", ".join(f"project {c.project_id} {c.job} {c.slot}" for c in skipped[:5])
            log.warning(
                "scheduler: %d slot(s) missed by more than the grace period (%s) were skipped: %s%s",
                len(skipped), self.grace, examples, " …" if len(skipped) > 5 else "",
            )
        report.counts.update(local_report.counts)
        report.lines += local_report.lines
        report.errors += local_report.errors

    def _run_retro_prompts(self, at: datetime, project_ids: Collection[int] | None, report: RunReport) -> None:
        """Closed projects whose retrospective prompt window is open now: one prompt each, exactly once."""
        with self._session_factory.begin() as session:
            query = select(Project).where(
                Project.status == ProjectStatus.CLOSED, Project.closed_at >= at - RETRO_LOOKBACK,
                Project.closed_at <= at,
            )
            if project_ids is not None:
                query = query.where(Project.id.in_(list(project_ids)))
            projects = list(session.scalars(query.order_by(Project.id)))
            if not projects:
                return
            calendars = load_calendars(session, project_ids=[p.id for p in projects], national=self._national)
            claims: list[Claim] = []
            for project in projects:
                window = retro_window(project, calendars[project.id])
                if window is None or not window.due_at <= at < window.until:
                    continue
                prompt = retro_prompt(project.name, window.closed_on, window.last_day)
                claims.append(Claim(project.id, RETRO_PROMPT, window.key, POSTED, [Post(prompt, False)]))
            claimed = self._claim(session, claims)
            by_id = {p.id: p for p in projects}
            outbox = OutboxBatch(session)
            data = Snapshot(session, [], at=at)
            for claim in claims:
                if claim.key not in claimed:
                    report.add(claim.job, "already")
                    continue
                for post in claim.posts:
                    self._enqueue(outbox, by_id[claim.project_id], claim, post, data)
                report.add(claim.job, POSTED, f"已发送：项目 {claim.project_id} {claim.job} {claim.slot}")
            outbox.flush()

    @staticmethod
    def _has_work(
        project: Project,
        plans: dict[int, tuple[list[Slot], list[Slot]]],
        existing: dict[tuple[int, str, str], str],
        reminding: set[int],
        calendars: dict[int, WorkCalendar],
    ) -> bool:
        if project.id in reminding or calendars[project.id].estimated_years:
            return True
        return any(existing.get((project.id, slot.job, slot.key), SKIPPED) == SKIPPED for slot in plans[project.id][0])

    def _plan_project(
        self,
        session: Session,
        project: Project,
        calendar: WorkCalendar,
        data: Snapshot,
        at: datetime,
        plan: tuple[list[Slot], list[Slot]],
        existing: dict[tuple[int, str, str], str],
        report: RunReport,
        privately: dict[date, set[str]],
    ) -> list[Claim]:
        due, missed = plan
        claims: list[Claim] = []
        for slot in missed:
            if (project.id, slot.job, slot.key) not in existing:
                claims.append(Claim(project.id, slot.job, slot.key, SKIPPED))
        due_keys = {(s.job, s.key) for s in due}
        for slot in due:
            recorded = existing.get((project.id, slot.job, slot.key))
            if recorded is not None and recorded != SKIPPED:
                report.add(slot.job, "already")
                continue
            if slot.job == NUDGE:
                prompt = existing.get((project.id, DAILY_PROMPT, slot.key))
                if prompt is None and (DAILY_PROMPT, slot.key) in due_keys:
                    # The prompt itself is only going out now (made up after downtime): no nudge on top.
                    claims.append(Claim(project.id, slot.job, slot.key, SUPERSEDED))
                    continue
                if prompt != POSTED:
                    claims.append(Claim(project.id, slot.job, slot.key, EMPTY))
                    continue
            if slot.job in PM_ONLY and project.platform not in self._private_platforms:
                claims.append(Claim(project.id, slot.job, slot.key, WITHHELD, revive=recorded == SKIPPED))
                continue
            covered = privately.get(slot.day, set())
            reply, private, rows = self._build(session, project, calendar, data, at, slot, covered)
            claims.append(
                Claim(
                    project.id, slot.job, slot.key, POSTED if reply else EMPTY, [Post(reply, private)] if reply else [],
                    revive=recorded == SKIPPED, agenda=rows if reply and isinstance(rows, Agenda) else None,
                    folded_runs=rows.folded_runs if reply and isinstance(rows, DailyPrompt) else (),
                )
            )
        return claims

    @staticmethod
    def _calendar_notices(project: Project, calendar: WorkCalendar, data: Snapshot) -> list[Claim]:
        """Tell the PM, once per project and year, that a year's holidays are only estimated."""
        claims = []
        for year in sorted(calendar.estimated_years):
            notice = text_reminders.calendar_notice(
                year, managers=managers(data.members(project.id)), project_name=project.name
            )
            claims.append(Claim(project.id, CALENDAR_NOTICE, str(year), POSTED, [Post(notice, True)]))
        return claims

    @staticmethod
    def _handovers(session: Session, project: Project, calendar: WorkCalendar, at: datetime) -> list[Claim]:
        """Stand-ins proposed to the PM for each leave starting by the next workday (once per leave)."""
        if not project.leave_handover:
            return []
        today = at.astimezone(ZoneInfo(project.timezone)).date()
        by = calendar.next_workday(today) or today + timedelta(days=1)
        claims = []
        for leave in leaves_to_hand_over(session, project_id=project.id, today=today, by=by):
            found = propose_handovers(session, leave, at=at)
            if not found:
                claims.append(Claim(project.id, LEAVE_HANDOVER, str(leave.id), EMPTY))
                continue
            reply = handover_proposal(
                session, leave, found, managers=registers.managers(session, project_id=project.id), today=today
            )
            claims.append(Claim(project.id, LEAVE_HANDOVER, str(leave.id), POSTED, [Post(reply, False)]))
        return claims

    @staticmethod
    def _hand_backs_due(session: Session, projects: Sequence[Project], at: datetime) -> dict[Leave, list[Handover]]:
        """Leaves just over with items still with stand-ins, for the batch (one statement); each project's
        own date decides whether its leave is over (`_hand_backs`)."""
        projects = [p for p in projects if p.leave_handover]
        if not projects:
            return {}
        latest = max(at.astimezone(ZoneInfo(p.timezone)).date() for p in projects)
        return hand_backs_due(session, project_ids=[p.id for p in projects], today=latest)

    @staticmethod
    def _hand_backs(session: Session, project: Project, due: dict[Leave, list[Handover]], at: datetime) -> list[Claim]:
        """After a leave, the group is told once what stand-ins still cover, and how the PM hands it back."""
        today = at.astimezone(ZoneInfo(project.timezone)).date()
        claims = []
        for leave, handovers in due.items():
            if leave.project_id != project.id or leave.last_day >= today:
                continue
            leave.hand_back_at = at
            reply = hand_back_proposal(
                session, leave, handovers, managers=registers.managers(session, project_id=project.id), today=today
            )
            claims.append(Claim(project.id, LEAVE_HAND_BACK, str(leave.id), POSTED, [Post(reply, False)]))
        return claims

    def _reminder_claims(
        self, session: Session, projects: dict[int, Project], incidents: dict[int, list[Incident]]
    ) -> list[Claim]:
        """A claim per incident; a person's reminders over the daily cap are claimed as `folded` (not sent,
        listed in their next prompt). Two statements per batch, whatever the people: the reminders already
        claimed for these projects, and what each of their members was sent today across all their projects."""
        folded: set[tuple[int, str, str]] = set()
        capped = [(pid, i) for pid, found in incidents.items() for i in found if reminder_cap.is_capped_kind(i)]
        if self._reminder_cap and capped:
            batch, days = sorted({pid for pid, _ in capped}), {i.today for _, i in capped}
            # Every candidate's key dates from its day on (overdue: the day; due: the due date).
            already = claimed_incidents(session, project_ids=batch, jobs=reminder_cap.CAPPED_JOBS, from_day=min(days))
            candidates = [
                reminder_cap.Candidate(projects[pid].platform, i, projects[pid].reminder_cap)
                for pid, i in capped if (pid, i.job, i.key) not in already
            ]
            sent = reminders_sent(session, project_ids=batch, days=days, jobs=reminder_cap.CAPPED_JOBS)
            folded = reminder_cap.over_cap(candidates, sent, self._reminder_cap)
        claims = []
        for pid, found in incidents.items():
            for i in found:
                person = i.owner if reminder_cap.is_capped_kind(i) else None
                claims.append(Claim(
                    pid, i.job, i.key, FOLDED if (pid, i.job, i.key) in folded else POSTED,
                    user_id=person.user_id if person else None, day=i.today if person else None,
                ))
        return claims

    def _post_reminders(
        self,
        outbox: OutboxBatch,
        project: Project,
        incidents: list[Incident],
        claimed: set[tuple[int, str, str]],
        data: Snapshot,
        at: datetime,
        report: RunReport,
    ) -> None:
        """Only the incidents claimed now are reminded about (each incident once), in one or two messages."""
        new = [i for i in incidents if (project.id, i.job, i.key) in claimed]
        if not new:
            return
        local = at.astimezone(ZoneInfo(project.timezone))
        stamp = local.strftime("%Y-%m-%dT%H:%M")
        # One message for the owners' reminders, one for the escalations: each line counts its own.
        counts = (
            sum(i.owner is not None for i in new),
            sum(i.owner is None and i.away for i in new),  # the PM covers for someone on leave
            sum(i.owner is None and not i.away for i in new),
        )
        sizes = [n for n in counts if n]
        replies = text_reminders.reminders(
            new, local.date(), managers=escalation_recipients(data.members(project.id)), project_name=project.name
        )
        for reply, size in zip(replies, sizes, strict=True):
            claim = Claim(project.id, REMINDERS, stamp, POSTED)
            self._enqueue(outbox, project, claim, Post(reply, False), data)
            report.lines.append(f"已发送：项目 {project.id} {reply.title}（{size} 项）")

    def _build(
        self, session: Session, project: Project, calendar: WorkCalendar, data: Snapshot, at: datetime, slot: Slot,
        covered: Collection[str] = (),
    ) -> tuple[Reply | None, bool, Agenda | DailyPrompt | None]:
        """(the reply, whether it goes to the PMs privately, the agenda's or the prompt's rows); `covered`:
        the person slots of the people who got the day's merged private prompt covering this project."""
        if slot.job == HOLIDAY_NOTICE:
            holiday = long_holiday_after(calendar, slot.day)
            if holiday is None:
                return None, False, None
            open_tasks = bool(data.open_tasks(project.id))  # make-up days are prompted only with open tasks
            return holiday_notice(holiday, project_name=project.name, open_tasks=open_tasks), False, None
        if slot.job == AGENDA:
            rows = compute.agenda(session, project, at, meeting_day=slot.day, data=data, calendar=calendar)
            return (text.agenda(rows) if rows else None), False, rows
        if slot.job == SLIP_CHECK:
            return self._slip_check(session, project, calendar, at), False, None
        # The owners told in the day's merged private prompt: named in the group prompt and nudge, not @-ed.
        privately = (
            {m.id for m in data.members(project.id).values() if person_slot(slot.day, m.user_id) in covered}
            if covered else set()
        )
        if slot.job == DAILY_PROMPT:
            prompt = compute.daily_prompt(session, project, at, data=data)
            reply = builders.daily_prompt_reply(prompt, project, calendar, privately=privately) if prompt else None
            return reply, False, prompt
        if slot.job == NUDGE:
            return builders.build_nudge(session, project, at, data=data, privately=privately), False, None
        if slot.job == MINUTES:
            return builders.build_minutes(session, project, at, meeting_day=slot.day, data=data), False, None
        if slot.job == DIGEST:
            return builders.build_digest(session, project, at, data=data, calendar=calendar), True, None
        if slot.job == WEEKLY_DIGEST:
            weekly = builders.build_weekly_digest(session, project, at, data=data)
            return pictures.with_digest_pictures(session, project, at, weekly, calendar=calendar), True, None
        raise ValueError(f"unknown job {slot.job}")

    # ------------------------------------------------------------------ one prompt per person

    def _run_person_prompts(self, at: datetime, project_ids: Collection[int] | None, report: RunReport) -> None:
        """The merged private prompts due now (scheduler.person_prompt), claimed exactly once: a constant
        number of statements whatever the number of people."""
        if not self._private_platforms:
            return
        with self._session_factory.begin() as session:
            found = owners_in_several(session, platforms=self._private_platforms, project_ids=project_ids)
            if not found:
                return
            ids = sorted({project_id for _, _, project_id in found})
            projects = {
                p.id: p for chunk in chunked(ids, 500) for p in session.scalars(select(Project).where(Project.id.in_(chunk)))
            }
            calendars = load_calendars(session, project_ids=ids, national=self._national)
            people: dict[tuple[str, str], list[Project]] = {}
            for platform, user_id, project_id in found:
                people.setdefault((platform, user_id), []).append(projects[project_id])
            due, missed = person_prompt.plan(people, calendars, at, self.grace)
            if not due and not missed:
                return
            recorded = self._person_slots_recorded(session, {p.slot for p in (*due, *missed)})
            claims = [
                Claim(min(p.project_ids), PERSON_PROMPT, p.slot, SKIPPED) for p in missed if p.slot not in recorded
            ]
            due = [p for p in due if p.slot not in recorded]
            data = Snapshot(session, sorted({pid for p in due for pid in p.project_ids}), at=at)
            prompts: dict[int, DailyPrompt | None] = {}
            for person in due:
                blocks: dict[int, OwnerTasks] = {}
                for project_id in person.project_ids:
                    project = projects[project_id]
                    if project_id not in prompts:
                        prompts[project_id] = compute.daily_prompt(session, project, at, data=data)
                    prompt = prompts[project_id]
                    if prompt is None or prompt.today != person.day:  # nothing to prompt there (on leave …)
                        continue
                    block = next((b for b in prompt.owners if b.owner.user_id == person.user_id), None)
                    if block is not None:
                        blocks[project_id] = block
                counted = person.only(blocks)
                if counted is None or counted.due_at > at:  # one project left, or its earliest time is later
                    continue
                rows = PersonPrompt(person.day, tuple((projects[pid].name, blocks[pid]) for pid in counted.project_ids))
                reply = text_person.person_prompt(rows)
                first = min(counted.project_ids)
                claims += [
                    Claim(pid, PERSON_PROMPT, counted.slot, POSTED, [Post(reply, True)] if pid == first else [])
                    for pid in counted.project_ids
                ]
            claimed = self._claim(session, claims)
            outbox = OutboxBatch(session)
            users = {p.slot: p.user_id for p in due}
            for claim in claims:
                project = projects[claim.project_id]
                if claim.outcome == SKIPPED:
                    if claim.key in claimed:
                        report.add(PERSON_PROMPT, SKIPPED, f"跳过（错过宽限期）：合并提醒 {claim.slot}")
                    continue
                if not claim.posts:
                    continue
                if claim.key not in claimed:
                    report.add(PERSON_PROMPT, "already")
                    continue
                outbox.add(
                    platform=project.platform, chat_id=project.chat_id, reply=claim.posts[0].reply,
                    origin=job_origin(PERSON_PROMPT, project.id, claim.slot), now=self._clock(), project_id=project.id,
                    to_user_id=users[claim.slot],
                )
                report.add(PERSON_PROMPT, POSTED, f"已发送：合并提醒 {claim.slot}（项目 {project.id} 起）")
            outbox.flush()

    @staticmethod
    def _person_slots_recorded(session: Session, slots: set[str]) -> set[str]:
        """The person slots already claimed, on whichever project."""
        found: set[str] = set()
        ordered = sorted(slots)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            found.update(session.scalars(select(JobRun.slot).where(JobRun.job == PERSON_PROMPT, JobRun.slot.in_(chunk))))
        return found

    def _prompted_privately(
        self, session: Session, projects: Sequence[Project], plans: dict[int, tuple[list[Slot], list[Slot]]]
    ) -> dict[int, dict[date, set[str]]]:
        """Project → day → the person slots of the merged prompts that covered it, for the projects whose
        prompt or nudge is due now (one statement for the batch, none when there is none)."""
        due = {
            (p.id, slot.day)
            for p in projects
            if p.merged_prompt and p.platform in self._private_platforms
            for slot in plans[p.id][0]
            if slot.job in (DAILY_PROMPT, NUDGE)
        }
        if not due:
            return {}
        days = sorted({day for _, day in due})
        ranges = [JobRun.slot.between(*person_prompt.day_slots(day)) for day in days]
        rows = session.execute(
            select(JobRun.project_id, JobRun.slot).where(
                JobRun.project_id.in_(sorted({pid for pid, _ in due})), JobRun.job == PERSON_PROMPT,
                JobRun.outcome == POSTED, or_(*ranges),
            )
        )
        found: dict[int, dict[date, set[str]]] = {}
        for project_id, slot in rows:
            day = date.fromisoformat(slot.split(":", 1)[0])
            if (project_id, day) in due:
                found.setdefault(project_id, {}).setdefault(day, set()).add(slot)
        return found

    # ------------------------------------------------------------------ claims

    @staticmethod
    def _slip_check(session: Session, project: Project, calendar: WorkCalendar, at: datetime) -> Reply | None:
        """Tasks past their due date unfinished: their dependents' owners told once (`reports.slips`)."""
        # A copy: what the forecast looks up (the plan's span, next year's estimate) is no calendar notice.
        calendar = WorkCalendar(calendar.national, calendar.overrides)
        plan = load_plan(session, project, at, calendar=calendar)
        news = slips.check(session, project, at, checks=slips.overdue_checks(plan), calendar=calendar)
        if news.empty or not news.lines:
            return None
        record_slip_news(session, project_id=project.id, warned=news.warned, cleared=news.cleared, at=at)
        return Reply("\n".join(news.lines), title=f"下游提醒 · {project.name}"[:60], mentions=tuple(news.mentions))

    @staticmethod
    def _existing(
        session: Session, plans: dict[int, tuple[list[Slot], list[Slot]]]
    ) -> dict[tuple[int, str, str], str]:
        """Outcomes already recorded for the planned slots (and the daily prompts nudges depend on)."""
        wanted: set[tuple[int, str, str]] = set()
        for project_id, (due, missed) in plans.items():
            for slot in (*due, *missed):
                wanted.add((project_id, slot.job, slot.key))
                if slot.job == NUDGE:
                    wanted.add((project_id, DAILY_PROMPT, slot.key))
        return claimed_slots(session, wanted)

    def _claim(self, session: Session, claims: list[Claim]) -> set[tuple[int, str, str]]:
        """Insert the claims' JobRun rows; returns the keys this transaction now owns."""
        if not claims:
            return set()
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        now = self._clock()
        rows = sorted({c.key: c for c in claims}.values(), key=lambda c: c.key)
        table = JobRun.__table__
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["project_id", "job", "slot"])
            .returning(table.c.project_id, table.c.job, table.c.slot)
        )
        owned: set[tuple[int, str, str]] = set()
        fresh = [c for c in rows if not c.revive]
        if fresh:
            # Core executemany with RETURNING: SQLAlchemy's "insertmanyvalues" sends pages of 1000 rows, in order.
            result = session.connection().execute(
                statement,
                [{"project_id": c.project_id, "job": c.job, "slot": c.slot, "claimed_at": now, "outcome": c.outcome,
                  "user_id": c.user_id, "day": c.day} for c in fresh],
            )
            owned.update((row[0], row[1], row[2]) for row in result)
        for claim in (c for c in rows if c.revive):
            # A slot recorded as skipped is due again only for an explicit run at its time (`tandem jobs run
            # --at`): taking it over is a conditional update, so it still goes out at most once.
            revived = session.connection().execute(
                update(table)
                .where(
                    table.c.project_id == claim.project_id, table.c.job == claim.job, table.c.slot == claim.slot,
                    table.c.outcome == SKIPPED,
                )
                .values(outcome=claim.outcome, claimed_at=now)
            )
            if revived.rowcount == 1:
                owned.add(claim.key)
        return owned

    # ------------------------------------------------------------------ posting

    def _reply_routes(
        self,
        session: Session,
        projects: Sequence[Project],
        claims: Sequence[Claim],
        incidents: dict[int, list[Incident]],
        claimed: set[tuple[int, str, str]],
    ) -> dict[tuple[str, str], tuple[str, datetime]]:
        posting = {c.project_id for c in claims if c.posts and c.key in claimed} | {
            pid for pid, found in incidents.items() if any((pid, i.job, i.key) in claimed for i in found)
        }
        groups = [(p.platform, p.chat_id) for p in projects if p.id in posting and p.platform in self._reply_route_platforms]
        return reply_routes(session, groups, valid_after=self._clock() + ROUTE_MARGIN)

    def _enqueue(self, outbox: OutboxBatch, project: Project, claim: Claim, post: Post, data: Snapshot) -> None:
        origin = job_origin(claim.job, project.id, claim.slot)
        now = self._clock()  # the wall clock: the sender delivers it right away (the content is as of `at`)
        targets: list[str | None] = [None]
        if post.private and project.platform in self._private_platforms:
            targets = [m.user_id for m in managers(data.members(project.id))] or [None]
        for user_id in targets:
            route = outbox.route(project.platform, project.chat_id) if user_id is None and post.reply.mentions else None
            outbox.add(
                platform=project.platform, chat_id=project.chat_id, reply=post.reply, origin=origin, now=now,
                project_id=project.id, to_user_id=user_id,
                reply_to=route[0] if route else None, reply_to_expires_at=route[1] if route else None,
            )
