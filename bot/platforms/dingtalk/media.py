"""DingTalk images and files: a reply's attachments uploaded to the old API host (`POST /media/upload`,
multipart `type=image` or `type=file` and `media=<file>`, the app's access token as `access_token`; host
`TANDEM_DINGTALK_OAPI_URL`), then posted as `sampleImageMsg` (photoURL = the media_id) or `sampleFile`
(mediaId, fileName, fileType) through the robot API after the reply itself (neither can go through a
sessionWebhook).

Uploads come first, so a failed upload posts nothing and the whole message is retried.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from bot.messages import Attachment, Reply
from bot.platforms import OutgoingMessage, PermanentError, TransientError

if TYPE_CHECKING:
    from bot.platforms.dingtalk.outbound import DingTalkApi

DINGTALK_OAPI = "https://oapi.dingtalk.com"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
TOKEN_ERRORS = frozenset({40001, 40014, 42001, 88})  # invalid or expired access token


def images_of(reply: Reply) -> list[Attachment]:
    return [a for a in reply.attachments if a.kind == "image"]


async def upload_image(api: DingTalkApi, image: Attachment) -> str:
    """The image's (or file's) media_id (reusable, no expiry)."""
    if not image.data or len(image.data) > MAX_IMAGE_BYTES:
        size = len(image.data)
        raise PermanentError(f"dingtalk {image.kind} {image.name}: {size} bytes (1 byte to 20 MB allowed)", code="image_size")
    kind = "file" if image.kind == "file" else "image"
    for attempt in (1, 2):
        token = await api.access_token()
        try:
            response = await api._http.post(
                f"{api.oapi_url}/media/upload",
                params={"access_token": token, "type": kind},  # `type` in the query too, as the docs advise
                data={"type": kind},
                files={"media": (image.name, image.data, image.media_type)},
            )
        except httpx.TimeoutException:
            raise TransientError("dingtalk media upload: timeout", code="timeout") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"dingtalk media upload: {type(exc).__name__}: {exc}", code="network") from None
        data = _json(response)
        errcode = data.get("errcode", 0 if response.status_code == 200 else None)
        media_id = data.get("media_id")
        if response.status_code == 200 and errcode == 0 and isinstance(media_id, str) and media_id:
            return media_id
        if attempt == 1 and (response.status_code == 401 or errcode in TOKEN_ERRORS):
            api.invalidate_token(token)
            continue
        detail = f"dingtalk media upload: HTTP {response.status_code} errcode {errcode} {data.get('errmsg', '')}".strip()
        code = str(errcode) if errcode not in (0, None) else f"http_{response.status_code}"
        if response.status_code >= 500 or response.status_code == 429 or errcode == -1:
            raise TransientError(detail, code=code)
        raise PermanentError(detail, code=code)
    raise TransientError("dingtalk media upload: access token refused twice")


async def upload_images(api: DingTalkApi, reply: Reply) -> list[str]:
    return [await upload_image(api, image) for image in images_of(reply)]


def files_of(reply: Reply) -> list[Attachment]:
    return [a for a in reply.attachments if a.kind == "file"]


async def upload_files(api: DingTalkApi, reply: Reply) -> list[tuple[str, Attachment]]:
    return [(await upload_image(api, file), file) for file in files_of(reply)]


async def send_file(api: DingTalkApi, message: OutgoingMessage, media_id: str, file: Attachment) -> None:
    suffix = file.name.rsplit(".", 1)[-1].lower() if "." in file.name else "file"
    param = json.dumps({"mediaId": media_id, "fileName": file.name, "fileType": suffix}, ensure_ascii=False)
    await _send(api, message, "sampleFile", param, "file")


async def send_image(api: DingTalkApi, message: OutgoingMessage, media_id: str) -> None:
    await _send(api, message, "sampleImageMsg", json.dumps({"photoURL": media_id}), "image")


async def _send(api: DingTalkApi, message: OutgoingMessage, key: str, param: str, what: str) -> None:
    body: dict[str, Any] = {"robotCode": api.client_id, "msgKey": key, "msgParam": param}
    if message.to_user_id:
        await api._api("/v1.0/robot/oToMessages/batchSend", {**body, "userIds": [message.to_user_id]}, f"private {what}")
    else:
        await api._api("/v1.0/robot/groupMessages/send", {**body, "openConversationId": message.chat_id}, f"group {what}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
