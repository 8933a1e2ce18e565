"""Feishu images and files: a reply's image attachments uploaded (`POST /open-apis/im/v1/images`, multipart
`image_type=message` and `image=<file>`), its file attachments (`POST /open-apis/im/v1/files`, multipart
`file_type` — `xls` for a workbook, `stream` for anything else — `file_name` and `file=<file>`, ≤30 MB),
and then posted as image and file messages (`{"file_key": …}`) after the reply itself.

Uploads come first, so a failed upload posts nothing and the whole message is retried; each image
message carries its own `uuid` (the row's key plus its index), so a retry never posts one twice.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from bot.messages import Attachment, Reply
from bot.platforms import PermanentError

if TYPE_CHECKING:
    from bot.platforms.feishu.outbound import FeishuApi

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Feishu's limit for message images
MAX_FILE_BYTES = 30 * 1024 * 1024  # and for uploaded files
FILE_TYPES = {".xlsx": "xls", ".xls": "xls", ".pdf": "pdf", ".doc": "doc", ".docx": "doc", ".ppt": "ppt", ".pptx": "ppt"}


def images_of(reply: Reply) -> list[Attachment]:
    return [a for a in reply.attachments if a.kind == "image"]


def _check_size(attachment: Attachment, limit: int, kind: str, shown: str) -> None:
    """Feishu refuses an empty upload and one over its limit: refused here, before any request."""
    if not attachment.data or len(attachment.data) > limit:
        raise PermanentError(
            f"feishu {kind} {attachment.name}: {len(attachment.data)} bytes (1 byte to {shown} allowed)", code=f"{kind}_size"
        )


def _uploaded_key(response: Any, kind: str) -> str:
    """The `image_key` / `file_key` of an upload's answer."""
    key = getattr(response.data, f"{kind}_key", None) if response.data else None
    if not isinstance(key, str) or not key:
        raise PermanentError(f"feishu upload {kind}: no {kind}_key in the answer", code=f"no_{kind}_key")
    return key


async def upload_image(api: FeishuApi, image: Attachment) -> str:
    """The image's `image_key`."""
    from lark_oapi.api.im.v1 import CreateImageRequest, CreateImageRequestBody

    _check_size(image, MAX_IMAGE_BYTES, "image", "10 MB")
    # The tuple form gives the part a filename and Content-Type (a bare file object is sent without them).
    body = CreateImageRequestBody.builder().image_type("message").image((image.name, io.BytesIO(image.data), image.media_type))
    request = CreateImageRequest.builder().request_body(body.build()).build()
    response = await api._call(lambda option: api._client.im.v1.image.create(request, option), "upload image")
    return _uploaded_key(response, "image")


async def upload_images(api: FeishuApi, reply: Reply) -> list[str]:
    return [await upload_image(api, image) for image in images_of(reply)]


def image_content(image_key: str) -> str:
    return json.dumps({"image_key": image_key})


def image_uuid(idempotency_key: str, index: int) -> str:
    return f"{idempotency_key[:40]}-img{index}"  # Feishu allows 50 characters


def files_of(reply: Reply) -> list[Attachment]:
    return [a for a in reply.attachments if a.kind == "file"]


def file_type(name: str) -> str:
    suffix = name[name.rfind("."):].lower() if "." in name else ""
    return FILE_TYPES.get(suffix, "stream")


async def upload_file(api: FeishuApi, file: Attachment) -> str:
    """The file's `file_key`."""
    from lark_oapi.api.im.v1 import CreateFileRequest, CreateFileRequestBody

    _check_size(file, MAX_FILE_BYTES, "file", "30 MB")
    body = (
        CreateFileRequestBody.builder().file_type(file_type(file.name)).file_name(file.name)
        .file((file.name, io.BytesIO(file.data), file.media_type))
    )
    request = CreateFileRequest.builder().request_body(body.build()).build()
    response = await api._call(lambda option: api._client.im.v1.file.create(request, option), "upload file")
    return _uploaded_key(response, "file")


async def upload_files(api: FeishuApi, reply: Reply) -> list[str]:
    return [await upload_file(api, file) for file in files_of(reply)]


def file_content(file_key: str) -> str:
    return json.dumps({"file_key": file_key})


def file_uuid(idempotency_key: str, index: int) -> str:
    return f"{idempotency_key[:40]}-file{index}"
