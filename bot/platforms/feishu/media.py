"""Feishu images: a reply's image attachments uploaded (`POST /open-apis/im/v1/images`, multipart
`image_type=message` and `image=<file>`) and then posted as image messages after the reply itself.

Uploads come first, so a failed upload posts nothing and the whole message is retried; each image
message carries its own `uuid` (the row's key plus its index), so a retry never posts one twice.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

from bot.messages import Attachment, Reply
from bot.platforms import PermanentError

if TYPE_CHECKING:
    from bot.platforms.feishu.outbound import FeishuApi

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Feishu's limit for message images


def images_of(reply: Reply) -> list[Attachment]:
    return [a for a in reply.attachments if a.kind == "image"]


async def upload_image(api: FeishuApi, image: Attachment) -> str:
    """The image's `image_key`."""
    from lark_oapi.api.im.v1 import CreateImageRequest, CreateImageRequestBody

    if not image.data or len(image.data) > MAX_IMAGE_BYTES:
        raise PermanentError(f"feishu image {image.name}: {len(image.data)} bytes (1 byte to 10 MB allowed)", code="image_size")
    # The tuple form gives the part a filename and Content-Type (a bare file object is sent without them).
    body = CreateImageRequestBody.builder().image_type("message").image((image.name, io.BytesIO(image.data), image.media_type))
    request = CreateImageRequest.builder().request_body(body.build()).build()
    response = await api._call(lambda option: api._client.im.v1.image.create(request, option), "upload image")
    key = response.data.image_key if response.data else None
    if not isinstance(key, str) or not key:
        raise PermanentError("feishu upload image: no image_key in the answer", code="no_image_key")
    return key


async def upload_images(api: FeishuApi, reply: Reply) -> list[str]:
    return [await upload_image(api, image) for image in images_of(reply)]


def image_content(image_key: str) -> str:
    return json.dumps({"image_key": image_key})


def image_uuid(idempotency_key: str, index: int) -> str:
    return f"{idempotency_key[:40]}-img{index}"  # Feishu allows 50 characters
