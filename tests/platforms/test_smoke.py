from __future__ import annotations

from tests.platforms.conftest import Tandem


def test_feishu_kickoff(tandem: Tandem) -> None:
    pm = tandem.feishu.add_user("ou_pm", "王经理")
    r = tandem.feishu_say("oc_g1", pm, "/项目 创建 新品发布会 截止:2026-12-20")
    assert r.status_code == 200, r.text
    posted = tandem.feishu.wait_for(1)
    assert posted and "已创建项目“新品发布会”" in posted[0].text, [p.text for p in posted]


def test_dingtalk_kickoff(tandem: Tandem) -> None:
    pm = tandem.dingtalk.add_user("staff_pm", "王经理")
    r = tandem.dingtalk_say("cidG1==", pm, "/项目 创建 新品发布会")
    assert r.status_code == 200, r.text
    sent = tandem.dingtalk.wait_for(1)
    assert sent and "已创建项目“新品发布会”，PM：王经理" in sent[0].text, sent
