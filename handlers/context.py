"""What a handler gets: the session, the message, its project and sender, and the message's own time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.messages import Incoming, Mention
from handlers.errors import PermissionDenied, UserError
from models import (
    USER_ID_MAX,
    ActionItem,
    Decision,
    Member,
    Project,
    Risk,
    Task,
    ensure_member,
    find_member,
    find_members_by_name,
    get_numbered,
)
from models.numbered import Numbered

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
    links: LinkMaker | None = None  # dashboard links (bot.dashboard.links), given by the composition root

    @property
    def today(self) -> date:
        return self.now.date()

    def require_project(self) -> Project:
        if self.project is None:
            raise UserError(NO_PROJECT)
        return self.project

    def require_sender(self) -> Member:
        if self.sender is None:
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

    def resolve_member(self, mention: Mention) -> Member:
        """The project member a mention names: by platform id, else by display name.

        A platform mention of someone not yet known makes them a member (they are in the group);
        a hand-typed @name must match a known member.
        """
        project = self.require_project()
        if mention.user_id:
            member = find_member(self.session, project_id=project.id, user_id=mention.user_id)
            if member is not None:
                return member
        matches = find_members_by_name(self.session, project_id=project.id, name=mention.name)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UserError(f"项目里有 {len(matches)} 位叫“{mention.name}”的成员，请用 @ 选择具体的人。")
        if not mention.user_id:
            raise UserError(f"项目里没有叫“{mention.name}”的成员。请用 @ 提及对方，或让对方先在群里说句话。")
        if len(mention.user_id) > USER_ID_MAX:
            raise UserError(f"@{mention.name[:20]}… 太长了，不像是一个人（最长 {USER_ID_MAX} 个字符）。")
        return ensure_member(
            self.session, project=project, user_id=mention.user_id, name=mention.name, now=self.now
        )
