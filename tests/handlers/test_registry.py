"""The registry lists every command explicitly: this is the command language's surface."""

from __future__ import annotations

from handlers import build_registry

EXPECTED = {
    "项目": (
        ["创建", "信息", "结项", "历史", "重开", "总结", "目标结果", "存为模板", "设置", "暂停", "恢复", "休息日", "补班",
         "章程"],
        False,
    ),
    "任务": (["新增", "列表", "修改", "取消", "恢复", "依赖", "批准", "驳回", "备注"], True),
    "开始": ([], True),
    "完成": ([], True),
    "阻塞": ([], True),
    "进度": ([], True),
    "成员": (["添加", "修改", "移除", "列表"], False),
    "部门": (["添加", "列表"], False),
    "风险": (["新增", "列表", "更新", "关闭", "重开", "采纳", "忽略", "候选"], True),
    "行动": (["新增", "列表", "完成", "取消", "修改"], True),
    "决议": (["新增", "列表"], True),
    "变更": (["新增", "批准", "驳回", "列表"], True),
    "验收": (["通过", "驳回", "列表"], True),
    "请假": (["取消", "列表"], True),
    "交接": (["确认", "交还"], True),
    "里程碑": ([], True),
    "关键路径": ([], True),
    "推演": ([], True),
    "撤销": ([], True),
    "议程": (["新增"], True),
    "汇总": ([], True),
    "周报": ([], True),
    "甘特图": ([], True),
    "看板": (["重置"], True),
    "导出": ([], True),
    "导入": (["确认", "取消"], True),
    "复盘": (["好", "改进", "复用", "纪要", "行动"], False),
    "模板": (["列表"], True),
    "帮助": ([], True),
}


def test_the_registry_lists_every_command_in_help_order() -> None:
    registry = build_registry()
    found = {g.names[0]: ([c.names[0] for c in g.subcommands], g.default is not None) for g in registry.groups}
    assert list(found) == list(EXPECTED)
    assert found == EXPECTED


def test_every_command_has_an_english_name_and_a_usage_line() -> None:
    for group in build_registry().groups:
        assert any(name.isascii() for name in group.names), group.names
        for command in [*group.subcommands, *([group.default] if group.default else [])]:
            assert command.group is group
            assert any(name.isascii() for name in command.names), (group.names[0], command.names)
            assert command.usage.startswith("/"), command.usage


def test_building_the_registry_again_adds_nothing_twice() -> None:
    first, second = build_registry(), build_registry()
    assert [len(g.subcommands) for g in first.groups] == [len(g.subcommands) for g in second.groups]
