"""模板沉淀 (issue 15): a project's WBS and risk checklist saved, then laid out for a new project in another
group on the working calendar — over 国庆 2026 (10-01 … 10-07 off, Saturday 10-10 worked: 调休) — shown
first, created on 确认."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from models import Department, Project, ProjectStatus, ProjectTemplate, Risk, RiskLevel, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, snapshot


def source(chat: ConsoleChat) -> None:
    """Mon 11-23 …: #1 11-23~11-24 (研发部), #2 11-25~11-27 after #1 (验收标准), #3 under #2 on 11-26 (设计部),
    #4 11-30~12-01 after #2 (市场部, milestone), #5 cancelled; risks R1 高, R2 低."""
    say = chat.say
    say("/任务 新增 需求评审 @李四 开始:2026-11-23 截止:2026-11-24 部门:研发部", name=PM)
    say("/任务 新增 方案设计 @李四 开始:2026-11-25 截止:2026-11-27 部门:研发部 依赖:#1", name=PM)
    say("/任务 新增 设计稿 @赵六 开始:2026-11-26 截止:2026-11-26 部门:设计部 父:#2", name=PM)
    say("/任务 新增 上线发布 @张三 开始:2026-11-30 截止:2026-12-01 部门:市场部 依赖:#2", name=PM)
    say("/任务 新增 临时杂事 @张三 截止:2026-12-02", name=PM)
    say("/任务 取消 #5 不做了", name=PM)
    say("/风险 新增 供应商延期 等级:高", name=PM)
    say("/风险 新增 文案返工 等级:低", name=PM)
    with chat.runtime.session_factory.begin() as session:
        session.execute(update(Task).where(Task.number == 2).values(acceptance_criteria="评审通过"))
        session.execute(update(Task).where(Task.number == 4).values(is_milestone=True))


def test_saved_template_laid_out_over_national_day_after_a_preview(project: ConsoleChat, other: ConsoleChat) -> None:
    source(project)
    assert "只有项目经理（PM）可以存为模板" in project.say("/项目 存为模板 发布会模板", name="李四")
    saved = project.say("/项目 存为模板 发布会模板", name=PM)
    assert "已保存模板“发布会模板”：任务 4 个（里程碑 1，有日期 4），风险 2 条" in saved
    assert "已有模板“发布会模板”" in project.say("/项目 存为模板 发布会模板", name=PM)
    assert "发布会模板 · 任务 4 · 风险 2" in other.say("/模板 列表", name="钱主管")

    before = snapshot(other)
    preview = other.say("/项目 创建 秋季发布会 模板:发布会模板 开始:2026-09-29", name="钱主管")
    assert "将按模板“发布会模板”创建项目“秋季发布会”：任务 4 个（里程碑 1），风险 2 条。" in preview
    assert "09-29(周二) 起，至 10-13(周二)" in preview
    assert "| 1. 需求评审 | 研发部 | 09-29(周二) ~ 09-30(周三) | — |" in preview
    assert "| 2. 方案设计 | 研发部 | 10-08(周四) ~ 10-10(周六) | 1 |" in preview  # 10-10: 调休 workday
    assert "| 3. 设计稿 | 设计部 | 10-09(周五) ~ 10-09(周五) | — |" in preview
    assert "| 4. 上线发布（里程碑） | 市场部 | 10-12(周一) ~ 10-13(周二) | 2 |" in preview
    assert "（高）供应商延期" in preview and "确认创建请回复：确认" in preview
    assert snapshot(other) == before  # a preview creates nothing

    created = other.say("确认", name="钱主管")
    assert "已按模板“发布会模板”创建项目“秋季发布会”，PM：钱主管" in created
    assert "待指派 · 研发部：#1 #2" in created and "待指派 · 市场部：#4" in created
    with other.runtime.session_factory() as session:
        new = session.scalars(select(Project).where(Project.chat_id == "g2")).one()
        assert new.status == ProjectStatus.ACTIVE
        tasks = {t.number: t for t in session.scalars(select(Task).where(Task.project_id == new.id))}
        assert {n: (t.title, t.start_date, t.due_date) for n, t in tasks.items()} == {
            1: ("需求评审", date(2026, 9, 29), date(2026, 9, 30)),
            2: ("方案设计", date(2026, 10, 8), date(2026, 10, 10)),
            3: ("设计稿", date(2026, 10, 9), date(2026, 10, 9)),
            4: ("上线发布", date(2026, 10, 12), date(2026, 10, 13)),
        }
        assert all(t.owner_id is None and t.status == TaskStatus.TODO for t in tasks.values())
        assert tasks[3].parent_id == tasks[2].id and [p.number for p in tasks[2].predecessors] == [1]
        assert [p.number for p in tasks[4].predecessors] == [2]
        assert tasks[2].acceptance_criteria == "评审通过" and tasks[4].is_milestone and not tasks[1].is_milestone
        departments = {d.id: d.name for d in session.scalars(select(Department).where(Department.project_id == new.id))}
        assert [departments[t.department_id] for _, t in sorted(tasks.items()) if t.department_id] == [
            "研发部", "研发部", "设计部", "市场部"
        ]
        risks = session.scalars(select(Risk).where(Risk.project_id == new.id).order_by(Risk.number)).all()
        assert [(r.description, r.level) for r in risks] == [("供应商延期", RiskLevel.HIGH), ("文案返工", RiskLevel.LOW)]


def test_a_start_on_a_day_off_begins_on_the_next_workday_and_no_cancels(project: ConsoleChat, other: ConsoleChat) -> None:
    source(project)
    project.say("/项目 存为模板 发布会模板", name=PM)
    preview = other.say("/project create 国庆项目 template:发布会模板 start:2026-10-03", name="钱主管")
    assert "（10-03(周六) 不是工作日，从下一个工作日 10-08(周四) 开始）" in preview
    assert "| 1. 需求评审 | 研发部 | 10-08(周四) ~ 10-09(周五) | — |" in preview
    assert "| 2. 方案设计 | 研发部 | 10-10(周六) ~ 10-13(周二) | 1 |" in preview
    assert "好的，没有创建项目“国庆项目”" in other.say("取消", name="钱主管")
    assert "本群还没有项目" in other.say("确认", name="钱主管")  # nothing waits any more
    with other.runtime.session_factory() as session:
        assert session.scalars(select(Project).where(Project.chat_id == "g2")).all() == []


def test_refusals_name_the_usage(project: ConsoleChat, other: ConsoleChat) -> None:
    assert "项目还没有任务" in project.say("/项目 存为模板 空模板", name=PM)
    assert "没有叫“不存在”的模板" in other.say("/项目 创建 新项目 模板:不存在 开始:2026-10-08", name="钱主管")
    source(project)
    project.say("/项目 存为模板 发布会模板", name=PM)
    assert "按模板创建需要开始日期" in other.say("/项目 创建 新项目 模板:发布会模板", name="钱主管")
    other.say("/项目 创建 新项目 模板:发布会模板 开始:2026-10-08", name="钱主管")
    assert "本群还没有项目" in other.say("确认", name="孙七")  # only the one who asked confirms
    assert "已覆盖模板“发布会模板”" in project.say("/项目 存为模板 发布会模板 覆盖", name=PM)
    with project.runtime.session_factory() as session:
        assert len(session.scalars(select(ProjectTemplate)).all()) == 1


def test_offsets_count_the_source_projects_own_days_off_and_a_due_date_alone(
    project: ConsoleChat, other: ConsoleChat
) -> None:
    say = project.say
    assert "休息日" in say("/项目 休息日 2026-11-25 团建", name=PM)
    say("/任务 新增 准备 @李四 开始:2026-11-23 截止:2026-11-26 部门:研发部", name=PM)  # 23, 24, 26: 3 workdays
    say("/任务 新增 交付 @李四 截止:2026-11-27", name=PM)  # no start: starts on its due date, 3 workdays in
    say("/项目 存为模板 短模板", name=PM)
    preview = other.say("/项目 创建 新项目 模板:短模板 开始:2026-09-29", name="钱主管")
    assert "| 1. 准备 | 研发部 | 09-29(周二) ~ 10-08(周四) | — |" in preview
    assert "| 2. 交付 | — | 10-09(周五) ~ 10-09(周五) | — |" in preview


def test_a_start_date_without_a_template_is_refused(other: ConsoleChat) -> None:
    reply = other.say("/项目 创建 新项目 开始:2026-10-08", name="钱主管")
    assert "开始日期用于按模板创建" in reply and "/项目 创建 <名称>" in reply
    with other.runtime.session_factory() as session:
        assert session.scalars(select(Project)).all() == []


def test_the_closed_project_saved_as_a_template_lays_out_the_groups_next_project(project: ConsoleChat) -> None:
    source(project)
    # its tasks carry 验收标准, never accepted: closing needs the PM's explicit 强制 (the acceptance gate)
    assert "已结项" in project.say("/项目 结项 强制", name=PM)
    assert "已保存模板“发布会模板”：任务 4 个" in project.say("/项目 存为模板 发布会模板", name=PM)
    assert "09-29(周二) 起，至 10-13(周二)" in project.say(
        "/项目 创建 秋季发布会 模板:发布会模板 开始:2026-09-29", name=PM
    )
    assert "已按模板“发布会模板”创建项目“秋季发布会”" in project.say("确认", name=PM)
    listed = project.say("/任务 列表 全部", name=PM)
    assert "方案设计" in listed and "10-10(周六)" in listed and "（项目“新品发布会”已结项" not in listed
