"""APScheduler 3.x inside `tandem serve`: two ticks that ask the database what is due now.

There is no job per project: one tick a minute runs the timed jobs (daily prompt and nudge, agenda
and minutes, digests) and one every 30 minutes runs the reminder check, each for every project with
the settings it has *now*, so a change made in chat applies without a restart. Job bodies are thin:
the unit of work runs in a worker thread (`anyio.to_thread`). Several processes may run a scheduler
against one database: slots are claimed there, never in APScheduler's (in-memory) job store.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from anyio import to_thread
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.clock import Clock, utcnow
from scheduler.jobs import JobRunner, RunReport

log = logging.getLogger(__name__)

TICK_JOB_ID = "tandem:tick"
REMINDERS_JOB_ID = "tandem:reminders"
TIMED_KINDS = ("daily-prompt", "weekly-agenda", "digest", "retro-prompt")
REMINDER_KINDS = ("reminders",)


class SchedulerService:
    def __init__(self, runner: JobRunner, *, timezone: str, clock: Clock = utcnow) -> None:
        self.runner = runner
        self._clock = clock
        self._tz = ZoneInfo(timezone)
        self._inflight: set[asyncio.Task[object]] = set()
        self.scheduler = AsyncIOScheduler(
            timezone=self._tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )

    def start(self) -> None:
        """Register the ticks (explicit ids, replace_existing) and start; call inside the running loop.

        Both ticks also run once right away, so slots missed while the process was down are made up
        (within their grace period) at start rather than at the next tick.
        """
        now = datetime.now(self._tz)
        self.scheduler.add_job(
            self.tick, CronTrigger(second=0, timezone=self._tz), id=TICK_JOB_ID, name="timed jobs",
            replace_existing=True, next_run_time=now,
        )
        self.scheduler.add_job(
            self.check_reminders, CronTrigger(minute="0,30", second=5, timezone=self._tz), id=REMINDERS_JOB_ID,
            name="reminders", replace_existing=True, next_run_time=now + timedelta(seconds=1),
        )
        # "Running job …" every minute is noise; a tick that posts logs its own summary, failures still show.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self.scheduler.start()
        log.info("scheduler started (%s, %s)", TICK_JOB_ID, REMINDERS_JOB_ID)

    async def tick(self) -> RunReport | None:
        return await self._run(TIMED_KINDS)

    async def check_reminders(self) -> RunReport | None:
        return await self._run(REMINDER_KINDS)

    async def _run(self, kinds: tuple[str, ...]) -> RunReport | None:
        at = self._clock()
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            report = await to_thread.run_sync(partial(self.runner.run, kinds, at))
        except Exception:
            log.exception("scheduler tick %s at %s failed", "/".join(kinds), at.isoformat())
            return None
        finally:
            if task is not None:
                self._inflight.discard(task)
        if report.lines or report.errors:
            log.info("scheduler %s at %s: %s", "/".join(kinds), at.isoformat(), report.summary())
        return report

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop ticking and let a tick in progress finish its unit of work (it runs in a thread).

        Paused first, shut down after: APScheduler's shutdown cancels the job coroutines still running,
        and a tick cancelled while its thread commits would be logged as failed."""
        if self.scheduler.running:
            self.scheduler.pause()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler.shutdown completes on the loop


def start_scheduler(runner: JobRunner, *, timezone: str, clock: Clock) -> SchedulerService:
    service = SchedulerService(runner, timezone=timezone, clock=clock)
    service.start()
    return service
