"""The in-process wake-up of callbacks waiting for their answer (bot.callback_answers.ProcessedEvents):
the worker thread's notice wakes exactly the waiter of that event, and nothing after it stopped waiting."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.callback_answers import ProcessedEvents


async def test_a_notice_from_the_worker_thread_wakes_only_that_events_waiter() -> None:
    events = ProcessedEvents()
    events.bind(asyncio.get_running_loop())
    with events.waiting("feishu", "ev-1") as mine, events.waiting("feishu", "ev-2") as other:
        worker = threading.Thread(target=events.notify, args=("feishu", "ev-1"))
        worker.start()
        async with asyncio.timeout(1.0):
            await mine.wait()
        worker.join()
        await asyncio.sleep(0.05)  # anything scheduled for the other waiter would have run by now
        assert not other.is_set()
    events.notify("feishu", "ev-1")  # nobody waits any more: nothing happens, nothing fails


async def test_without_a_bound_loop_a_notice_is_dropped() -> None:
    events = ProcessedEvents()
    with events.waiting("dingtalk", "ev-3") as waiter:
        events.notify("dingtalk", "ev-3")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await waiter.wait()
