"""A fake Feishu: the open API Tandem calls (token, bot info, contact, create/reply message) served over
real HTTP, checking requests the way Feishu does; and the event side, building events encrypted with
the Encrypt Key and signed over the raw body exactly as Feishu pushes them.

Written from the platform documentation (shared/reference/feishu.md), independently of bot/platforms.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import re
import threading
import time
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from Crypto.Cipher import AES
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.feishu_ws import FeishuGateway

TEXT_LIMIT = 150 * 1024
CARD_LIMIT = 30 * 1024
_AT_TAG = re.compile(r"<at\b([^>]*)>(.*?)</at>", re.S)
_counter = itertools.count(1)


def encrypt(plaintext: str, encrypt_key: str, iv: bytes | None = None) -> str:
    """What Feishu puts in {"encrypt": ...}: base64(iv + AES-256-CBC(sha256(key), PKCS7(plaintext)))."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = iv or os.urandom(16)
    data = plaintext.encode()
    pad = 16 - len(data) % 16
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(data + bytes([pad]) * pad)).decode()


def lark_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


@dataclass
class Posted:
    """A message that Feishu accepted and showed in a chat."""

    message_id: str
    chat_id: str | None
    receive_id_type: str
    receive_id: str
    msg_type: str
    content: dict[str, Any]
    uuid: str | None
    reply_to: str | None
    at: float = field(default_factory=time.monotonic)  # comparable across processes (CLOCK_MONOTONIC)

    @property
    def text(self) -> str:
        if self.msg_type == "text":
            return str(self.content["text"])
        if self.msg_type == "post":  # as the client shows it: text nodes as they are, at nodes as mentions
            return "\n".join("".join(_node_text(n) for n in paragraph) for paragraph in self.paragraphs)
        if self.msg_type == "interactive":
            header = self.content.get("header", {}).get("title", {}).get("content", "")
            elements = self.content.get("body", {}).get("elements", []) or self.content.get("elements", [])
            parts = [e.get("content", "") for e in elements if isinstance(e, dict)]
            return "\n".join([header, *parts]) if header else "\n".join(parts)
        return json.dumps(self.content, ensure_ascii=False)

    @property
    def paragraphs(self) -> list[list[dict[str, Any]]]:
        """A post's paragraphs (its first locale's), each a list of nodes."""
        locale = next(iter(self.content.values()), {}) if self.msg_type == "post" else {}
        return list(locale.get("content", [])) if isinstance(locale, dict) else []

    @property
    def at_user_ids(self) -> list[str]:
        """Who the message really mentions: post `at` nodes, text `<at user_id>` tags, card `<at id>`."""
        if self.msg_type == "post":
            return [str(n.get("user_id")) for p in self.paragraphs for n in p if n.get("tag") == "at"]
        ids = re.findall(r'<at user_id="([^"]+)">', self.text)
        return ids + re.findall(r"<at id=([^>\s]+)></at>", self.text)


CARD_V2_TAGS = frozenset(
    {"markdown", "div", "hr", "img", "column_set", "column", "button", "form", "input", "select_static", "plain_text",
     "table", "collapsible_panel"}
)
CARD_MAX_ELEMENTS = 200
# Feishu's documented rules (card JSON 2.0 components): header templates; a table only at the card's root,
# at most five per card, at most 50 columns, page_size 1–10, each column named with a known data_type and
# each row's keys among the columns; a collapsible panel has a header title and no form inside.
CARD_TEMPLATES = frozenset({"blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine", "violet",
                            "purple", "indigo", "grey", "default"})
CARD_MAX_TABLES = 5
TABLE_MAX_COLUMNS = 50
TABLE_DATA_TYPES = frozenset({"text", "lark_md", "options", "number", "persons", "date", "markdown"})


def _table_problem(table: dict[str, Any]) -> str | None:
    columns = table.get("columns")
    if not isinstance(columns, list) or not columns or len(columns) > TABLE_MAX_COLUMNS:
        return f"a table needs 1–{TABLE_MAX_COLUMNS} columns"
    names = [c.get("name") for c in columns if isinstance(c, dict)]
    if len(names) != len(columns) or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        return "table columns need distinct names"
    if any(c.get("data_type", "text") not in TABLE_DATA_TYPES for c in columns):
        return "unknown table data_type"
    page = table.get("page_size", 5)
    if not isinstance(page, int) or not 1 <= page <= 10:
        return "table page_size must be 1–10"
    rows = table.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and set(r) <= set(names) for r in rows):
        return "table rows must be objects keyed by column names"
    return None


def card_problem(card: dict[str, Any]) -> str | None:
    """What Feishu would refuse in a JSON 2.0 card (the parts Tandem uses): unknown or 1.0-only tags
    (`action`), more than 200 components, callback values that are not objects, a form's input or
    submit button outside a form, form names repeated, an unknown header template, a table not at the
    root, more than five tables or a malformed one, a collapsible panel without a header or with a form."""
    count = 0
    tables = 0
    form_names: list[str] = []
    template = card.get("header", {}).get("template")
    if template is not None and template not in CARD_TEMPLATES:
        return f"unknown header template {template!r}"

    def walk(value: Any, in_form: bool, at_root: bool = False, in_panel: bool = False) -> str | None:
        nonlocal count, tables
        if isinstance(value, list):
            return next((p for p in (walk(v, in_form, at_root, in_panel) for v in value) if p), None)
        if not isinstance(value, dict):
            return None
        tag = value.get("tag")
        if tag is not None:
            if tag not in CARD_V2_TAGS:
                return f"unsupported tag {tag!r}"
            count += tag != "plain_text"
            if tag == "form":
                if in_panel:
                    return "a form inside a collapsible panel"
                form_names.append(str(value.get("name")))
            if tag == "input" and (not in_form or not value.get("name")):
                return "an input outside a form or without a name"
            if tag == "button":
                if value.get("form_action_type") and not in_form:
                    return "a submit button outside a form"
                for behavior in value.get("behaviors", ()):
                    if behavior.get("type") == "callback" and not isinstance(behavior.get("value"), dict):
                        return "a callback value that is not an object"
            if tag == "table":
                tables += 1
                if not at_root:
                    return "a table inside another component"
                problem = _table_problem(value)
                if problem:
                    return problem
                return None  # rows and columns are data, not components
            if tag == "collapsible_panel":
                title = value.get("header", {}).get("title") if isinstance(value.get("header"), dict) else None
                if not isinstance(title, dict) or not isinstance(title.get("content"), str):
                    return "a collapsible panel without a header title"
        inner = in_form or tag == "form"
        panel = in_panel or tag == "collapsible_panel"
        return next((p for p in (walk(v, inner, False, panel) for k, v in value.items() if k != "tag") if p), None)

    problem = walk(card.get("body", {}).get("elements", []), False, True)
    if problem:
        return problem
    if count > CARD_MAX_ELEMENTS:
        return f"{count} components (at most {CARD_MAX_ELEMENTS})"
    if tables > CARD_MAX_TABLES:
        return f"{tables} tables (at most {CARD_MAX_TABLES})"
    if len(form_names) != len(set(form_names)):
        return "form names repeated"
    return None


def _valid_post(content: dict[str, Any]) -> bool:
    """A post as Feishu checks it: a locale with paragraphs of known nodes; text nodes carry text."""
    locales = [v for k, v in content.items() if k in ("zh_cn", "en_us", "ja_jp")]
    if not locales or len(locales) != len(content):
        return False
    for locale in locales:
        paragraphs = locale.get("content") if isinstance(locale, dict) else None
        if not isinstance(paragraphs, list) or not all(isinstance(p, list) for p in paragraphs):
            return False
        for node in (n for p in paragraphs for n in p):
            tag = node.get("tag") if isinstance(node, dict) else None
            if tag == "text" and not isinstance(node.get("text"), str):
                return False
            if tag == "at" and not re.fullmatch(r"ou_\S+|all", str(node.get("user_id"))):
                return False
            if tag not in ("text", "a", "at", "img", "media", "emotion", "hr", "code_block", "md"):
                return False
    return True


def _node_text(node: dict[str, Any]) -> str:
    if node.get("tag") == "at":
        return f'<at user_id="{node.get("user_id")}"></at>'
    return str(node.get("text", ""))


class FeishuFake:
    def __init__(
        self,
        *,
        app_id: str | None = None,
        app_secret: str = "feishu-app-secret",
        verification_token: str = "feishu-verification-token",
        encrypt_key: str | None = "feishu encrypt key",
        bot_open_id: str = "ou_tandem_bot",
        bot_name: str = "Tandem",
        per_chat_per_second: int = 5,
        per_app_per_second: int = 50,
    ) -> None:
        # The SDK-independent parts of Tandem still get a distinct app id per fake (no shared caches).
        self.app_id = app_id or f"cli_test{next(_counter):04d}{uuidlib.uuid4().hex[:6]}"
        self.app_secret = app_secret
        self.verification_token = verification_token
        self.encrypt_key = encrypt_key
        self.bot_open_id = bot_open_id
        self.bot_name = bot_name
        self.url = ""  # set once served
        self.per_chat = per_chat_per_second
        self.per_app = per_app_per_second
        self.lock = threading.Lock()
        self.ws = FeishuGateway(self.app_id, self.app_secret)  # the long connection
        self.reset()
        self.app = self._build()
        self.ws.install(self.app)

    def reset(self) -> None:
        """Forget everything (a fresh tenant), keeping the server and the credentials."""
        self.ws.reset()
        with self.lock:
            self.users: dict[str, str] = {}
            self.tokens: dict[str, float] = {}
            self.token_requests = 0
            self.posted: list[Posted] = []
            self.requests: list[dict[str, Any]] = []  # every send attempt, with the answer's code
            self.failures: deque[str] = deque()
            self.reset_seconds: float = 1
            self.messages: dict[str, str] = {}  # message_id → chat_id, for users' and the bot's messages
            self.recalled: set[str] = set()
            self.rate_violations = 0
            self._uuids: dict[str, tuple[Posted, float]] = {}
            self.images: dict[str, bytes] = {}  # image_key → the uploaded bytes
            self.files: dict[str, tuple[str, bytes]] = {}  # file_key → (file_name, the uploaded bytes)
            self.sent_files: dict[str, dict[str, Any]] = {}  # message_id → a user's file message (file_event)
            self.downloads: list[dict[str, Any]] = []  # every resource download: message, key, type, status
            self.uploads: list[dict[str, Any]] = []  # every upload attempt: fields, filename, content type
            self._chat_sends: dict[str, deque[float]] = {}
            self._app_sends: deque[float] = deque()
            self.updates: list[tuple[str, dict[str, Any]]] = []  # (message_id, the card it now shows)
            self._message_updates: dict[str, deque[float]] = {}

    # --- test controls ------------------------------------------------------------------------

    def add_user(self, open_id: str, name: str) -> str:
        self.users[open_id] = name
        return open_id

    def fail_next(self, *kinds: str) -> None:
        """Queue failures for the next send calls: "429", "400-99991400", "230020", "500", "502",
        "timeout" (answers after 12 s), "token" (the presented token is revoked), "230002" (permanent),
        "lost" (the message is posted but the answer is a 504)."""
        with self.lock:
            self.failures.extend(kinds)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def message(self, message_id: str) -> Posted | None:
        """A message the bot posted, as it shows now (after any updates)."""
        with self.lock:
            return next((p for p in self.posted if p.message_id == message_id), None)

    def wait_for_updates(self, count: int, *, message_id: str | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The cards `message_id` (or any message) was updated to, once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [card for mid, card in self.updates if message_id is None or mid == message_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def texts(self, chat_id: str | None = None) -> list[str]:
        with self.lock:
            return [p.text for p in self.posted if chat_id is None or p.chat_id == chat_id]

    def wait_for(self, count: int, *, chat_id: str | None = None, timeout: float = 10.0) -> list[Posted]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [p for p in self.posted if chat_id is None or p.chat_id == chat_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    # --- the event side: what Feishu pushes -----------------------------------------------------

    def envelope(self, event_type: str, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        return {
            "schema": "2.0",
            "header": {
                "event_id": event_id or uuidlib.uuid4().hex,
                "token": self.verification_token,
                "create_time": str(int(time.time() * 1000)),
                "event_type": event_type,
                "tenant_key": "tenant_fake",
                "app_id": self.app_id,
            },
            "event": event,
        }

    def message_event(
        self,
        chat_id: str,
        sender: str,
        text: str,
        *,
        at_bot: bool = True,
        chat_type: str = "group",
        message_type: str = "text",
        content: dict[str, Any] | None = None,
        message_id: str | None = None,
        event_id: str | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        """A user's message as Feishu delivers it: each `@名字` of a known user (and the bot, first
        when `at_bot`) becomes `@_user_N` with an entry in `mentions`."""
        mentions: list[dict[str, Any]] = []
        by_name = {name: open_id for open_id, name in self.users.items()}
        by_name[self.bot_name] = self.bot_open_id

        def mention(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in by_name:
                return match.group(0)
            open_id = by_name[name]
            key = f"@_user_{len(mentions) + 1}"
            ids = {"open_id": open_id, "union_id": "on_" + open_id[3:], "user_id": open_id[3:]}
            mentions.append({"key": key, "id": ids, "name": name, "tenant_key": "tenant_fake"})
            return key

        body = re.sub(r"(?<!\S)@(\S+)", mention, f"@{self.bot_name} {text}" if at_bot else text)
        message_id = message_id or f"om_{uuidlib.uuid4().hex}"
        self.messages[message_id] = chat_id
        message = {
            "message_id": message_id,
            "create_time": str(int(time.time() * 1000)),
            "update_time": str(int(time.time() * 1000)),
            "chat_id": chat_id,
            "chat_type": chat_type,
            "message_type": message_type,
            "content": json.dumps(content if content is not None else {"text": body}, ensure_ascii=False),
        }
        if mentions and message_type == "text":
            message["mentions"] = mentions
        if parent_id is not None:  # a reply: Feishu gives the replied message as parent (and thread root)
            message["parent_id"] = message["root_id"] = parent_id
        event = {
            "sender": {
                "sender_id": {"open_id": sender, "union_id": "on_" + sender[3:], "user_id": sender[3:]},
                "sender_type": "user",
                "tenant_key": "tenant_fake",
            },
            "message": message,
        }
        return self.envelope("im.message.receive_v1", event, event_id=event_id)

    def file_event(self, chat_id: str, sender: str, file_name: str, data: bytes) -> dict[str, Any]:
        """A user's file message (content `{"file_key", "file_name"}`); its file is then served by
        `GET /open-apis/im/v1/messages/:message_id/resources/:file_key?type=file`."""
        key = f"file_v3_{uuidlib.uuid4().hex}"
        event = self.message_event(chat_id, sender, "", at_bot=False, message_type="file",
                                   content={"file_key": key, "file_name": file_name})
        message = event["event"]["message"]
        with self.lock:
            self.sent_files[message["message_id"]] = {
                "message_id": message["message_id"], "chat_id": chat_id, "sender": sender, "file_key": key,
                "file_name": file_name, "data": data, "create_time": message["create_time"],
            }
        return event

    def card_event(
        self, chat_id: str, operator: str, message_id: str, value: dict[str, Any], form_value: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "operator": {"tenant_key": "tenant_fake", "open_id": operator, "union_id": "on_" + operator[3:]},
            "token": "c-" + uuidlib.uuid4().hex,
            "action": {"value": value, "tag": "button", "name": "button_1"},
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": chat_id},
        }
        if form_value is not None:  # a form's submit button: Feishu sends the inputs by name
            event["action"] |= {"form_value": form_value, "name": "form_0_b0"}
        return self.envelope("card.action.trigger", event)

    def challenge(self, challenge: str = "ajls384kdjxxxx") -> dict[str, Any]:
        return {"challenge": challenge, "token": self.verification_token, "type": "url_verification"}

    def request(
        self, payload: dict[str, Any], *, timestamp: int | None = None, nonce: str | None = None, sign: bool = True
    ) -> tuple[bytes, dict[str, str]]:
        """Body bytes and headers exactly as Feishu sends them (encrypted and signed when a key is set)."""
        plain = json.dumps(payload, ensure_ascii=False)
        if not self.encrypt_key:
            return plain.encode(), {"Content-Type": "application/json; charset=utf-8"}
        body = json.dumps({"encrypt": encrypt(plain, self.encrypt_key)}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if sign and payload.get("type") != "url_verification":
            ts = str(timestamp if timestamp is not None else int(time.time()))
            nonce = nonce or uuidlib.uuid4().hex[:16]
            headers.update(
                {
                    "X-Lark-Request-Timestamp": ts,
                    "X-Lark-Request-Nonce": nonce,
                    "X-Lark-Signature": lark_signature(ts, nonce, self.encrypt_key, body),
                }
            )
        return body, headers

    # --- the open API ---------------------------------------------------------------------------

    def _error(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"code": code, "msg": msg, "data": {}}, status_code=status, headers=headers)

    def _authorized(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return self._error(400, 99991661, "Missing access token for authorization.")
        expiry = self.tokens.get(header[7:])
        if expiry is None or expiry < time.monotonic():
            return self._error(400, 99991663, "Invalid access token for authorization.")
        return None

    async def _inject(self, request: Request) -> Response | None:
        with self.lock:
            kind = self.failures.popleft() if self.failures else None
        if kind is None:
            return None
        reset = {"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": str(self.reset_seconds)}
        if kind == "429":
            return self._error(429, 99991400, "request trigger frequency limit", reset)
        if kind == "400-99991400":
            return self._error(400, 99991400, "request trigger frequency limit", reset)
        if kind == "230020":
            return self._error(400, 230020, "This operation triggers the frequency limit.")
        if kind == "500":
            return self._error(500, 1500, "internal error")
        if kind == "502":
            return Response("<html><body>502 Bad Gateway</body></html>", status_code=502, media_type="text/html")
        if kind == "timeout":
            await asyncio.sleep(12)
            return self._error(500, 1500, "too late")
        if kind == "token":
            header = request.headers.get("authorization", "")
            self.tokens.pop(header[7:], None)
            return self._error(400, 99991663, "Invalid access token for authorization.")
        if kind == "230002":
            return self._error(400, 230002, "The bot is not in the chat.")
        raise ValueError(kind)

    def _rate(self, chat_id: str | None) -> JSONResponse | None:
        now = time.monotonic()
        while self._app_sends and now - self._app_sends[0] >= 1.0:
            self._app_sends.popleft()
        if len(self._app_sends) >= self.per_app:
            self.rate_violations += 1
            return self._error(429, 99991400, "request trigger frequency limit", {"x-ogw-ratelimit-reset": "1"})
        if chat_id is not None:
            sends = self._chat_sends.setdefault(chat_id, deque())
            while sends and now - sends[0] >= 1.0:
                sends.popleft()
            if len(sends) >= self.per_chat:
                self.rate_violations += 1
                return self._error(400, 230020, "This operation triggers the frequency limit.")
            sends.append(now)
        self._app_sends.append(now)
        return None

    def _check_content(self, msg_type: Any, content: Any) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        if msg_type not in ("text", "post", "interactive", "image", "file", "share_chat"):
            return None, self._error(400, 230001, f"invalid msg_type {msg_type!r}")
        if not isinstance(content, str):
            return None, self._error(400, 230001, "content must be a JSON string")
        try:
            parsed = json.loads(content)
        except ValueError:
            return None, self._error(400, 230001, "content is not valid JSON")
        if not isinstance(parsed, dict):
            return None, self._error(400, 230001, "content must be a JSON object")
        limit = TEXT_LIMIT if msg_type == "text" else CARD_LIMIT
        if len(content.encode()) > limit:
            return None, self._error(400, 230025, "message content too long")
        if msg_type == "text":
            if not isinstance(parsed.get("text"), str) or not parsed["text"]:
                return None, self._error(400, 230001, "text content needs a non-empty text")
            for attrs, _ in _AT_TAG.findall(parsed["text"]):
                if not re.fullmatch(r'\s+user_id="(ou_[^"]+|all)"\s*', attrs):
                    return None, self._error(400, 230001, f"bad at tag: {attrs}")
        if msg_type == "post" and not _valid_post(parsed):
            return None, self._error(400, 230001, "post content error")
        if msg_type == "image" and parsed.get("image_key") not in self.images:
            return None, self._error(400, 234001, "invalid image_key (not uploaded by this app)")
        if msg_type == "file" and parsed.get("file_key") not in self.files:
            return None, self._error(400, 234001, "invalid file_key (not uploaded by this app)")
        if msg_type == "interactive":
            elements = parsed.get("body", {}).get("elements") if parsed.get("schema") == "2.0" else parsed.get("elements")
            if not isinstance(elements, list):
                return None, self._error(400, 230099, "card content error")
            problem = card_problem(parsed) if parsed.get("schema") == "2.0" else None
            if problem:
                return None, self._error(400, 230099, f"card content error: {problem}")
        return parsed, None

    async def _send(
        self, request: Request, body: Any, *, receive_id_type: str, receive_id: Any, reply_to: str | None
    ) -> Response:
        record: dict[str, Any] = {
            "receive_id_type": receive_id_type,
            "receive_id": receive_id,
            "reply_to": reply_to,
            "body": body,
        }
        with self.lock:
            self.requests.append(record)
        with self.lock:
            lose_answer = bool(self.failures) and self.failures[0] == "lost"
            if lose_answer:
                self.failures.popleft()
        denied = self._authorized(request) or (None if lose_answer else await self._inject(request))
        if denied is not None:
            record["status"] = denied.status_code
            return denied
        if not isinstance(body, dict):
            return self._error(400, 9499, "Bad Request")
        uuid = body.get("uuid")
        if uuid is not None and (not isinstance(uuid, str) or len(uuid) > 50):
            return self._error(400, 230001, "uuid must be a string of at most 50 characters")
        parsed, bad = self._check_content(body.get("msg_type"), body.get("content"))
        if bad is not None:
            record["status"] = bad.status_code
            return bad
        assert parsed is not None
        with self.lock:
            now = time.monotonic()
            if uuid and uuid in self._uuids and now - self._uuids[uuid][1] < 3600:
                record["status"] = 200
                record["deduplicated"] = True
                return self._ok(self._uuids[uuid][0])
            chat_id = self.messages.get(reply_to) if reply_to else (receive_id if receive_id_type == "chat_id" else None)
            limited = self._rate(chat_id or (receive_id if isinstance(receive_id, str) else None))
            if limited is not None:
                record["status"] = limited.status_code
                return limited
            posted = Posted(
                message_id=f"om_bot_{uuidlib.uuid4().hex}",
                chat_id=chat_id,
                receive_id_type=receive_id_type,
                receive_id=str(receive_id),
                msg_type=str(body["msg_type"]),
                content=parsed,
                uuid=uuid,
                reply_to=reply_to,
            )
            self.posted.append(posted)
            if chat_id:
                self.messages[posted.message_id] = chat_id
            if uuid:
                self._uuids[uuid] = (posted, now)
            record["status"] = 500 if lose_answer else 200
        if lose_answer:  # shown in the chat, but the answer never reaches the caller
            return Response("<html>504 Gateway Time-out</html>", status_code=504, media_type="text/html")
        return self._ok(posted)

    def _ok(self, posted: Posted) -> JSONResponse:
        return JSONResponse(
            {
                "code": 0,
                "msg": "success",
                "data": {
                    "message_id": posted.message_id,
                    "chat_id": posted.chat_id,
                    "msg_type": posted.msg_type,
                    "create_time": str(int(time.time() * 1000)),
                    "sender": {"id": self.app_id, "id_type": "app_id", "sender_type": "app"},
                    "body": {"content": json.dumps(posted.content, ensure_ascii=False)},
                },
            }
        )

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/open-apis/auth/v3/tenant_access_token/internal")
        async def token(request: Request) -> JSONResponse:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return self._error(400, 9499, "Bad Request")
            with self.lock:
                self.token_requests += 1
            if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
                return JSONResponse({"code": 10014, "msg": "app secret invalid"})
            value = "t-" + uuidlib.uuid4().hex
            with self.lock:
                self.tokens[value] = time.monotonic() + 7200
            return JSONResponse({"code": 0, "msg": "ok", "tenant_access_token": value, "expire": 7200})

        @app.get("/open-apis/bot/v3/info")
        async def bot_info(request: Request) -> JSONResponse:
            denied = self._authorized(request)
            if denied is not None:
                return denied
            bot = {"activate_status": 2, "app_name": self.bot_name, "open_id": self.bot_open_id, "ip_white_list": []}
            return JSONResponse({"code": 0, "msg": "ok", "bot": bot})

        @app.get("/open-apis/contact/v3/users/{user_id}")
        async def user(user_id: str, request: Request) -> JSONResponse:
            denied = self._authorized(request)
            if denied is not None:
                return denied
            if request.query_params.get("user_id_type") != "open_id" or user_id not in self.users:
                return self._error(400, 41050, "no user authority error")
            return JSONResponse(
                {"code": 0, "msg": "success", "data": {"user": {"open_id": user_id, "name": self.users[user_id]}}}
            )

        @app.post("/open-apis/im/v1/images")
        async def upload_image(request: Request) -> JSONResponse:
            """im/v1/images: multipart `image_type=message` and `image=<file>`, ≤10 MB, not empty, an image."""
            denied = self._authorized(request) or await self._inject(request)
            if denied is not None:
                with self.lock:
                    self.uploads.append({"status": denied.status_code})
                return denied
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                return self._error(400, 234001, "Invalid request param: multipart/form-data expected")
            form = await request.form()
            image = form.get("image")
            record: dict[str, Any] = {"fields": sorted(form.keys()), "image_type": form.get("image_type")}
            with self.lock:
                self.uploads.append(record)
            if form.get("image_type") not in ("message", "avatar"):
                return self._error(400, 234001, "Invalid request param: image_type")
            if image is None or isinstance(image, str):
                return self._error(400, 234001, "Invalid request param: image is not a file")
            data = await image.read()
            record.update(filename=image.filename, content_type=image.content_type, size=len(data))
            if not data:
                return self._error(400, 234010, "File's size can't be 0.")
            if len(data) > 10 * 1024 * 1024:
                return self._error(400, 234006, "The file size exceed the max value.")
            if not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM")):
                return self._error(400, 234011, "Can't regonnize the image format.")
            key = f"img_v3_{uuidlib.uuid4().hex}"
            with self.lock:
                self.images[key] = data
            return JSONResponse({"code": 0, "msg": "success", "data": {"image_key": key}})

        @app.post("/open-apis/im/v1/files")
        async def upload_file(request: Request) -> JSONResponse:
            """im/v1/files: multipart `file_type` (opus mp4 pdf doc xls ppt stream), `file_name`, `file=<file>`, ≤30 MB."""
            denied = self._authorized(request) or await self._inject(request)
            if denied is not None:
                return denied
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                return self._error(400, 234001, "Invalid request param: multipart/form-data expected")
            form = await request.form()
            file, name = form.get("file"), form.get("file_name")
            record: dict[str, Any] = {"fields": sorted(form.keys()), "file_type": form.get("file_type"), "file_name": name}
            with self.lock:
                self.uploads.append(record)
            if form.get("file_type") not in ("opus", "mp4", "pdf", "doc", "xls", "ppt", "stream"):
                return self._error(400, 234001, "Invalid request param: file_type")
            if not isinstance(name, str) or not name:
                return self._error(400, 234001, "Invalid request param: file_name")
            if file is None or isinstance(file, str):
                return self._error(400, 234001, "Invalid request param: file is not a file")
            data = await file.read()
            if not data:
                return self._error(400, 234010, "File's size can't be 0.")
            if len(data) > 30 * 1024 * 1024:
                return self._error(400, 234006, "The file size exceed the max value.")
            key = f"file_v3_{uuidlib.uuid4().hex}"
            with self.lock:
                self.files[key] = (name, data)
            return JSONResponse({"code": 0, "msg": "success", "data": {"file_key": key}})

        @app.post("/open-apis/im/v1/messages")
        async def create(request: Request) -> Response:
            id_type = request.query_params.get("receive_id_type")
            body = await _json(request)
            if id_type not in ("open_id", "union_id", "user_id", "email", "chat_id"):
                return self._error(400, 230001, "invalid receive_id_type")
            receive_id = body.get("receive_id") if isinstance(body, dict) else None
            prefix = {"chat_id": "oc_", "open_id": "ou_"}.get(id_type, "")
            if not isinstance(receive_id, str) or not receive_id.startswith(prefix):
                return self._error(400, 230001, "invalid receive_id")
            return await self._send(request, body, receive_id_type=id_type, receive_id=receive_id, reply_to=None)

        @app.patch("/open-apis/im/v1/messages/{message_id}")
        async def patch(message_id: str, request: Request) -> Response:
            """Update a card the bot sent (im/v1/message/patch): our own interactive message, not
            recalled, `update_multi` true before and after, a valid card, 5 updates/s per message."""
            body = await _json(request)
            denied = self._authorized(request) or await self._inject(request)
            if denied is not None:
                return denied
            with self.lock:
                posted = next((p for p in self.posted if p.message_id == message_id), None)
            if message_id in self.recalled:
                return self._error(400, 230011, "The message was withdrawn.")
            if posted is None:
                return self._error(400, 230001, "invalid message_id (not sent by this bot)")
            if posted.msg_type != "interactive":
                return self._error(400, 230001, "only cards can be updated")
            content = body.get("content") if isinstance(body, dict) else None
            parsed, bad = self._check_content("interactive", content)
            if bad is not None:
                return bad
            assert parsed is not None
            for card in (posted.content, parsed):
                if not card.get("config", {}).get("update_multi"):
                    return self._error(400, 230099, "card content error: update_multi must be true")
            with self.lock:
                now = time.monotonic()
                sends = self._message_updates.setdefault(message_id, deque())
                while sends and now - sends[0] >= 1.0:
                    sends.popleft()
                if len(sends) >= 5:
                    self.rate_violations += 1
                    return self._error(400, 230020, "This operation triggers the frequency limit.")
                sends.append(now)
                posted.content = parsed
                self.updates.append((message_id, parsed))
            return JSONResponse({"code": 0, "msg": "success", "data": {}})
        @app.get("/open-apis/im/v1/messages/{message_id}")
        async def get_message(message_id: str, request: Request) -> JSONResponse:
            """im/v1/messages/:message_id: the message as `data.items[0]` (msg_type, body.content …)."""
            denied = self._authorized(request)
            if denied is not None:
                return denied
            sent = self.sent_files.get(message_id)
            if sent is None and message_id not in self.messages:
                return self._error(400, 230001, "invalid message_id")
            if sent is not None:
                item = {"message_id": message_id, "msg_type": "file", "chat_id": sent["chat_id"],
                        "create_time": sent["create_time"], "deleted": False, "updated": False,
                        "sender": {"id": sent["sender"], "id_type": "open_id", "sender_type": "user"},
                        "body": {"content": json.dumps({"file_key": sent["file_key"], "file_name": sent["file_name"]},
                                                       ensure_ascii=False)}}
            else:
                item = {"message_id": message_id, "msg_type": "text", "chat_id": self.messages[message_id],
                        "body": {"content": json.dumps({"text": "…"})}}
            return JSONResponse({"code": 0, "msg": "success", "data": {"items": [item]}})

        @app.get("/open-apis/im/v1/messages/{message_id}/resources/{file_key}")
        async def resource(message_id: str, file_key: str, request: Request) -> Response:
            """im/v1/messages/:message_id/resources/:file_key?type=file|image: the bytes (tenant token; the
            key must belong to that message)."""
            denied = self._authorized(request)
            kind = request.query_params.get("type")
            sent = self.sent_files.get(message_id)
            status = denied.status_code if denied is not None else 200
            if denied is None and kind not in ("file", "image"):
                denied = self._error(400, 234001, "Invalid request param: type")
            elif denied is None and (sent is None or sent["file_key"] != file_key):
                denied = self._error(400, 234003, "File not in msg.")
            with self.lock:
                self.downloads.append({"message_id": message_id, "file_key": file_key, "type": kind,
                                       "status": denied.status_code if denied is not None else status})
            if denied is not None:
                return denied
            assert sent is not None
            return Response(sent["data"], media_type="application/octet-stream",
                            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{file_key}"})

        @app.post("/open-apis/im/v1/messages/{message_id}/reply")
        async def reply(message_id: str, request: Request) -> Response:
            body = await _json(request)
            if message_id in self.recalled:
                return self._error(400, 230011, "The message was withdrawn.")
            if message_id not in self.messages:
                return self._error(400, 230001, "invalid message_id")
            return await self._send(request, body, receive_id_type="reply", receive_id=message_id, reply_to=message_id)

        return app


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None
