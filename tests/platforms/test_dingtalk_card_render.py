"""Rendering a reply with buttons into the DingTalk card template's variables: every value within 1 KB
whatever the sections, each section on exactly one card in order, an update re-rendering the same
sections, and a reply that cannot fit going as markdown."""

from __future__ import annotations

import json
import random
from itertools import pairwise

import pytest

from bot.messages import Button, Mention, Reply, Section
from bot.platforms.dingtalk import cards
from tests.fakes.dingtalk import card_data_problem


def section(i: int, width: int) -> Section:
    buttons = (Button("完成", f"/任务 #{i} 完成"), Button("阻塞", f"/任务 #{i} 阻塞", style="danger", input="原因"))
    return Section(title="<@u1>（2 项）" if i == 1 else None, lines=(f"  #{i} " + "写" * width,), buttons=buttons)


@pytest.mark.parametrize("seed", range(8))
def test_every_card_keeps_each_value_within_1kb_and_carries_each_section_once(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(1, 14)
    reply = Reply("请更新：", title="今日进度更新", mentions=(Mention("u1", "李四"),),
                  sections=tuple(section(i, rng.randint(1, 60)) for i in range(1, count + 1)))
    chunks = cards.render(reply)
    if chunks is None:  # only when it needs more than MAX_CARDS cards
        assert count > cards.MAX_CARDS
        return
    assert chunks[0].start == 0 and all(a.end == b.start for a, b in pairwise(chunks))
    assert chunks[-1].end == count and all(c.end > c.start for c in chunks)
    set_id = cards.card_set_id("0123456789abcdef0123456789abcdef", chunks)
    sent = cards.sent_cards(set_id)  # what an update of the message re-renders: each card, its own sections
    assert sent is not None and [(c.index, c.start, c.end) for c in sent] == [(c.index, c.start, c.end) for c in chunks]
    for chunk, card in zip(chunks, sent, strict=True):
        assert card_data_problem(chunk.params) is None
        assert all(len(v.encode()) <= cards.VALUE_LIMIT for v in chunk.params.values())
        assert cards.rerender(reply, chunk.index, chunk.start, chunk.end) == chunk.params
        track = cards.out_track_id(set_id, chunk)
        assert card.track == track and len(track) <= 100 and cards.set_of_track(track) == set_id
    items = [item for c in chunks for item in json.loads(c.params["items"])]
    assert [i["actions"][0]["command"] for i in items] == [f"/任务 #{n} 完成" for n in range(1, count + 1)]
    assert "@李四" in items[0]["text"]  # mentions as names: card markdown cannot @ people


def test_a_card_sent_before_card_sets_is_still_its_own_message() -> None:
    old = "0123456789abcdef0123456789abcdef-c1-3-7"  # `<key>-c<index>-<start>-<end>`
    assert cards.set_of_track(old) == old
    assert cards.sent_cards(old) == [cards.SentCard(old, 1, 3, 7)]
    assert cards.set_of_track("someone-else's-card") is None and cards.sent_cards("processQueryKey") is None


def test_a_reply_whose_text_passes_1kb_goes_as_markdown() -> None:
    reply = Reply("长" * 400, sections=(section(1, 5),))
    assert cards.render(reply) is None


def test_the_answer_is_private_to_the_clicker_and_says_what_happened() -> None:
    done = cards.answer(Reply("#1 写发布稿 已完成"))
    refused = cards.answer(Reply("#2 的负责人是 李四，只有负责人或 PM 可以更新。", style="refusal"))
    assert done["userPrivateData"]["cardParamMap"] == {"notice": "#1 写发布稿 已完成", "notice_type": "success"}
    assert refused["userPrivateData"]["cardParamMap"]["notice_type"] == "error"
    assert "cardData" not in done  # the shared card is updated afterwards, never in the callback
