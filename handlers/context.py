"""What a handler gets: the session, the message, its project and sender, and the message's own time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.messages import Incoming, Mention
from handlers.errors import PermissionDenied, UserError
from handlers.names import nearest_names
from models import (
    USER_ID_MAX,
    ActionItem,
    Decision,
    Member,
    Project,
    Proposal,
    Risk,
    Task,
    ensure_member,
    find_member,
    find_members_by_name,
    get_numbered,
    record_change,
)
from models.numbered import Numbered
from models.registers import active_member_names

if TYPE_CHECKING:
    from handlers.dashboard import LinkMaker
    from handlers.router import CommandRegistry

NO_PROJECT = "本群还没有项目。先发送：/项目 创建 <名称> [目标:…] [截止:日期]"
# What a numbered entity is called, its id prefix, and where to look for the existing ones.
NUMBERED_NAMES: dict[type, tuple[str, str, str]] = {
    Task: ("任务", "#", "/任务 列表 查看现有任务"),
    Risk: ("风险", "R", "/风险 列表 查看现有风险"),
    ActionItem: ("行动项", "A", "/行动 列表 查看现有行动项"),
    Decision: ("决议", "D", "/决议 列表 查看"),
}


@dataclass(slots=True)
class Context:
    session: Session
    incoming: Incoming
    now: datetime  # the message's own time, in the project's time zone
    registry: CommandRegistry
    project: Project | None = None
    sender: Member | None = None
    # One-line remarks the reply ends with (a new member added, a due date on a day off …).
    notes: list[str] = field(default_factory=list)
    # The group's most recently closed project, when it has no active one (read-only commands see it).
    closed_project: Project | None = None
    links: LinkMaker | None = None  # dashboard links (bot.dashboard.links), given by the composition root
    # The sender's pending proposal this message ended (`models.pending`): `/推演 应用` reads the what-if it kept.
    proposal: Proposal | None = None
    # Tasks this message blocked, moved or settled, with their due date before it (`handlers.slips`).
    slip_checks: dict[int, date | None] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.date()

    def require_project(self) -> Project:
        if self.project is None:
            if self.closed_project is not None:
                from handlers.project_closeout import closed_refusal

                raise UserError(closed_refusal(self.closed_project))
            raise UserError(NO_PROJECT)
        return self.project

    def require_sender(self) -> Member:
        if self.sender is None:
            if self.project is not None:  # reading a closed project someone never spoke in
                raise UserError(f"你不是项目“{self.project.name}”的成员。")
            raise UserError(NO_PROJECT)
        return self.sender

    @property
    def is_manager(self) -> bool:
        return self.sender is not None and self.sender.is_manager

    def require_manager(self, action: str) -> Member:
        sender = self.require_sender()
        if not sender.is_manager:
            raise PermissionDenied(f"只有项目经理（PM）可以{action}。")
        return sender

    def require_numbered(self, model: type[Numbered], number: int) -> Numbered:
        """This project's task/risk/action item/decision with that number, or a refusal saying so."""
        project = self.require_project()
        found = get_numbered(self.session, model, project_id=project.id, number=number)
        if found is None:
            what, prefix, hint = NUMBERED_NAMES[model]
            raise UserError(f"本项目没有{what} {prefix}{number}。发送 {hint}。")
        return found

    def resolve_member(self, mention: Mention, *, may_add: bool = False, assigning: bool = False) -> Member:
        """The active project member a mention names: by platform id, else by display name.

        A platform's own mention of someone not yet known makes them a member (the platform vouches
        they are a person in the group); a typed name (`负责人:名字`, the console's `@名字`) must match
        a member, and one that does not is refused with the nearest names, never added. `may_add`
        (`/成员 添加`, the explicit way) adds anyone named, and brings back a removed member.
        `assigning` (an owner being named): a console `@名字` like nobody here is added, out loud.
        """
        project = self.require_project()
        if len(mention.user_id) > USER_ID_MAX or len(mention.name) > USER_ID_MAX:
            raise UserError(f"@{mention.name[:20]}… 太长了，不像是一个人（最长 {USER_ID_MAX} 个字符）。")
        if mention.user_id:
            member = find_member(self.session, project_id=project.id, user_id=mention.user_id)
            if member is not None and (member.is_active or may_add):
                return member
            if member is not None:
                raise UserError(f"{member.name} 已移出项目。PM 可以重新添加：/成员 添加 @{member.name}")
        matches = find_members_by_name(self.session, project_id=project.id, name=mention.name)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UserError(f"项目里有 {len(matches)} 位叫“{mention.name}”的成员，请用 @ 选择具体的人。")
        vouched = any(m.user_id == mention.user_id and not m.typed for m in self.incoming.mentions)
        if mention.user_id and (may_add or (vouched and not mention.typed)):
            return ensure_member(
                self.session, project=project, user_id=mention.user_id, name=mention.name, now=self.now
            )
        near = nearest_names(mention.name, active_member_names(self.session, project_id=project.id), by_sound=True)
        if near:
            raise UserError(f"项目里没有成员“{mention.name}”，是不是 {'、'.join(near)}？请用 @ 选择，或写对名字再发一次。")
        if not mention.user_id or not assigning:
            raise UserError(
                f"项目里没有成员“{mention.name}”。请 @ 群里的人，或请 PM 先添加：/成员 添加 @{mention.name}"
            )
        # A typed @name like nobody here: added, but said out loud (and /撤销 takes it back).
        member = ensure_member(self.session, project=project, user_id=mention.user_id, name=mention.name, now=self.now)
        record_change(
            self.session, project_id=project.id, entity="member", entity_id=member.id, actor=self.sender,
            at=self.incoming.sent_at, field="joined", new=member.name, before={"removed_at": self.incoming.sent_at},
        )
        self.notes.append(f"（{member.name} 之前不在项目里，已加为成员；写错了请发 /撤销）")
        return member
