"""SQLAlchemy 2.0 typed models and the query functions that go with them.

Query functions take the session first and everything else keyword-only; they may flush, never commit.
"""

from models.acceptance import Acceptance, AcceptanceSignoff
from models.base import Base, UTCDateTime
from models.change_request import ChangeRequest
from models.charter import CharterAck
from models.delivery import InboundEvent, OutboundMessage
from models.edits import Edit
from models.enums import (
    OPEN_TASK_STATUSES,
    ActionStatus,
    CalendarDayKind,
    InboundStatus,
    OutboundStatus,
    ProjectStatus,
    RiskLevel,
    RiskStatus,
    RiskStrategy,
    Role,
    TaskStatus,
)
from models.history import Change, record_change, set_message_ref
from models.leave import (
    Handover,
    HandoverStatus,
    Leave,
    away_on,
    hand_backs_due,
    leaves_of,
    leaves_to_hand_over,
    pending_handovers,
)
from models.meeting import ActionItem, Decision
from models.numbered import get_numbered
from models.pending import PendingUpdate, Proposal, propose_update, take_pending_update
from models.pending_import import PendingImport
from models.project import (
    CHAT_ID_MAX,
    USER_ID_MAX,
    CalendarDay,
    Department,
    Member,
    Project,
    allocate_number,
    ensure_member,
    find_department,
    find_member,
    find_members_by_name,
    get_active_project,
    get_active_project_and_member,
    get_or_create_department,
)
from models.retro import GoalResult, RetroEntry
from models.rhythm import AgendaRun, AgendaTopic, DueRequest
from models.risk import Risk
from models.risk_proposal import ProposalStatus, RiskProposal, already_proposed, pending_proposals
from models.schedule import JobRun
from models.secrets import AppSecret, get_or_create_secret
from models.slips import SlipCause, SlipWarning
from models.task import Task, task_dependency
from models.template import ProjectTemplate, TemplateLayout
from models.webhook import WebhookSignature, claim_webhook_signature, prune_webhook_signatures

__all__ = [
    "CHAT_ID_MAX",
    "OPEN_TASK_STATUSES",
    "USER_ID_MAX",
    "Acceptance",
    "AcceptanceSignoff",
    "ActionItem",
    "ActionStatus",
    "AgendaRun",
    "AgendaTopic",
    "AppSecret",
    "Base",
    "CalendarDay",
    "CalendarDayKind",
    "Change",
    "ChangeRequest",
    "CharterAck",
    "Decision",
    "Department",
    "DueRequest",
    "Edit",
    "GoalResult",
    "Handover",
    "HandoverStatus",
    "InboundEvent",
    "InboundStatus",
    "JobRun",
    "Leave",
    "Member",
    "OutboundMessage",
    "OutboundStatus",
    "PendingImport",
    "PendingUpdate",
    "Project",
    "ProjectStatus",
    "ProjectTemplate",
    "Proposal",
    "ProposalStatus",
    "RetroEntry",
    "Risk",
    "RiskLevel",
    "RiskProposal",
    "RiskStatus",
    "RiskStrategy",
    "Role",
    "SlipCause",
    "SlipWarning",
    "Task",
    "TaskStatus",
    "TemplateLayout",
    "UTCDateTime",
    "WebhookSignature",
    "allocate_number",
    "already_proposed",
    "away_on",
    "claim_webhook_signature",
    "ensure_member",
    "find_department",
    "find_member",
    "find_members_by_name",
    "get_active_project",
    "get_active_project_and_member",
    "get_numbered",
    "get_or_create_department",
    "get_or_create_secret",
    "hand_backs_due",
    "leaves_of",
    "leaves_to_hand_over",
    "pending_handovers",
    "pending_proposals",
    "propose_update",
    "prune_webhook_signatures",
    "record_change",
    "set_message_ref",
    "take_pending_update",
    "task_dependency",
]
