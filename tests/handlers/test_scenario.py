"""A project from kickoff to its first week: a dozen tasks, three departments, dependencies, blocked and
finished tasks, risks, decisions and action items, in Chinese, English and free text; every list checked."""

from __future__ import annotations

from datetime import datetime

from tests.chat import ConsoleChat
from tests.conftest import SHANGHAI

PM = "王经理"


def test_launch_project_first_week(chat: ConsoleChat) -> None:
    say = chat.say
    # Kickoff (Monday 11-23 10:00).
    assert "已创建项目“新品发布会”" in say("/项目 创建 新品发布会 目标:12月发布新品 截止:2026-12-31 部门:研发部,市场部", name=PM)
    assert "已新增部门：行政部" in say("/dept add 行政部", name=PM)
    say("/成员 添加 @李四 @赵六 部门:研发部", name=PM)
    say("/member add @张三 dept:市场部 role:co-pm", name=PM)
    say("/成员 添加 @孙八 部门:行政部", name=PM)
    assert say("/成员 列表").splitlines() == [
        "【成员（5）】",
        "▸ 研发部（2）", "  李四", "  赵六",
        "▸ 市场部（1）", "  张三（副PM）",
        "▸ 行政部（1）", "  孙八",
        "▸ 未分部门（1）", "  王经理（PM）",
    ]

    # Breakdown: twelve tasks.
    plan = [
        "/任务 新增 产品需求定稿 @李四 截止:周三 部门:研发部",                      # 1
        "/任务 新增 后端接口 @赵六 截止:12月2日 部门:研发部 依赖:#1",                 # 2
        "/任务 新增 官网页面 @李四 截止:12月4日 部门:研发部 依赖:#2",                 # 3
        "/task add Load test @赵六 due:2026-12-08 dept:研发部 deps:#2,#3",           # 4
        "/任务 新增 发布会 @张三 截止:12月18日 部门:市场部",                          # 5
        "/任务 新增 发布稿 @张三 截止:下周五 部门:市场部 父:#5 交付物:新闻稿终稿",   # 6
        "/任务 新增 媒体邀请 @张三 截止:12月10日 部门:市场部 父:#5",                   # 7
        "/任务 新增 场地预订 @孙八 截止:周五 部门:行政部 父:#5",                        # 8
        "/任务 新增 物料制作 @孙八 截止:12月11日 部门:行政部 父:#5 依赖:#8",           # 9
        "/任务 新增 嘉宾接待 @孙八 截止:12月18日 部门:行政部 父:#5",                    # 10
        "/task add Demo video @李四 due:2026-12-09 dept:市场部 parent:#5 deps:#3",   # 11
        "/任务 新增 预算审批 截止:明天",                                             # 12 (the PM's own)
    ]
    for number, text in enumerate(plan, start=1):
        assert f"已新增 #{number} " in say(text, name=PM), text
    assert "#5 现在依赖 #6，#7，#8，#9，#10，#11" in say("/任务 依赖 #5 #6,#7,#8,#9,#10,#11", name=PM)
    assert "会形成循环" in say("/任务 依赖 #1 #4", name=PM)

    # Tuesday: updates in chat.
    chat.clock.set(datetime(2026, 11, 24, 17, 5, tzinfo=SHANGHAI))
    assert "可以开始：#2 后端接口（@赵六）" in say("#1 已经完成了", name="李四")
    assert "进行中 40%" in say("#2 进度40% 明天联调", name="赵六")
    assert "阻塞" in say("#8 卡住了，等场地方报价", name="孙八")
    assert "→ 已完成" in say("/done #12", name=PM)
    assert "进行中" in say("/任务 #6 start", name="张三")
    assert "进行中 30%" in say("/progress #7 30% 已联系 5 家", name="张三")
    assert "截止 12-18(周五) → 12-17(周四)" in say("/任务 修改 #10 截止:12-17", name="孙八")
    assert "已取消 #11 Demo video" in say("/task cancel #11 用现场演示代替", name=PM)

    # Risks, a decision and action items in Wednesday's sync.
    chat.clock.set(datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI))
    reply = say("/风险 新增 场地可能订不到 等级:高 影响:发布会延期 应对:减轻 措施:同时联系两家 @孙八", name="张三")
    assert "已登记风险 R1🔴" in reply
    assert "已登记风险 R2🟢" in say("/risk add Printer may be late level:low strategy:accept", name="孙八")
    assert "已登记风险 R3🟠" in say("/风险 新增 接口性能未知 @赵六", name="赵六")
    assert "已记录决议 D1" in say("/决议 场地预算上限 5 万", name=PM)
    assert "已新增行动项 A1" in say("/行动 新增 联系备选场地 @孙八 截止:周五 来源:D1", name=PM)
    assert "已新增行动项 A2" in say("/action add Share API docs @赵六 due:tomorrow", name=PM)
    assert "已新增行动项 A3" in say("/行动 新增 确认嘉宾名单 @张三 截止:下周一", name="张三")
    assert "✅ A2" in say("A2 done", name="赵六")
    assert "已关闭风险 R3" in say("/风险 关闭 R3 压测通过", name="赵六")

    # Monday 11-30: #8 (due Friday) is overdue and blocked.
    chat.clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI))
    assert say("/任务 列表").splitlines() == [
        "【未完成的任务（9）】",
        "#8 ⛔阻塞 场地预订 · 孙八 · 截止11-27(周五) · ⚠逾期3天 · 原因：等场地方报价",
        "#2 🔵进行中 40% 后端接口 · 赵六 · 截止12-02(周三)",
        "#3 ⚪待开始 官网页面 · 李四 · 截止12-04(周五)",
        "#6 🔵进行中 发布稿 · 张三 · 截止12-04(周五)",
        "#4 ⚪待开始 Load test · 赵六 · 截止12-08(周二)",
        "#7 🔵进行中 30% 媒体邀请 · 张三 · 截止12-10(周四)",
        "#9 ⚪待开始 物料制作 · 孙八 · 截止12-11(周五)",
        "#10 ⚪待开始 嘉宾接待 · 孙八 · 截止12-17(周四)",
        "#5 ⚪待开始 发布会 · 张三 · 截止12-18(周五)",
    ]
    assert say("/task list blocked").splitlines() == [
        "【阻塞的任务（1）】",
        "#8 ⛔阻塞 场地预订 · 孙八 · 截止11-27(周五) · ⚠逾期3天 · 原因：等场地方报价",
    ]
    assert say("/任务 列表 逾期").splitlines()[0] == "【逾期的任务（1）】"
    assert [line.split()[0] for line in say("/任务 列表 我的", name="张三").splitlines()[1:]] == ["#6", "#7", "#5"]
    assert [line.split()[0] for line in say("/task list @孙八").splitlines()[1:]] == ["#8", "#9", "#10"]
    assert [line.split()[0] for line in say("/任务 列表 部门:研发部").splitlines()[1:]] == ["#2", "#3", "#4"]
    assert [line.split()[0] for line in say("/任务 列表 已完成").splitlines()[1:]] == ["#12", "#1"]
    assert say("/任务 列表 全部").splitlines()[0] == "【全部任务（12）】"

    detail = say("/任务 #5").splitlines()
    assert "子任务：#6🔵，#7🔵，#8⛔，#9⚪，#10⚪，#11➖" in detail
    assert "依赖：#6🔵，#7🔵，#8⛔，#9⚪，#10⚪，#11➖" in detail

    assert say("/风险 列表").splitlines() == [
        "【未关闭的风险（2）】",
        "R1🔴高 场地可能订不到 · 孙八 · 减轻",
        "R2🟢低 Printer may be late · 孙八 · 接受",
    ]
    assert say("/行动 列表").splitlines() == [
        "【未完成的行动项（2）】",
        "A1 ⚪ 联系备选场地 · 孙八 · 截止11-27(周五) · ⚠逾期3天 · 来源 D1",
        "A3 ⚪ 确认嘉宾名单 · 张三 · 截止11-30(周一) · 来源 2026-11-25",
    ]
    assert say("/决议 列表").splitlines() == ["【决议（1）】", "D1 11-25(周三) 场地预算上限 5 万（王经理）"]
    assert say("/部门 列表").splitlines() == [
        "【部门（3）】",
        "研发部 · 李四、赵六 · 未完成任务 3",
        "市场部 · 张三 · 未完成任务 3",
        "行政部 · 孙八 · 未完成任务 3",
    ]
    info = say("/项目 信息")
    assert "任务：未完成 9（阻塞 1），已完成 2" in info and "部门：研发部、市场部、行政部" in info
