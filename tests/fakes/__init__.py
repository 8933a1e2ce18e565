"""Fake Feishu and DingTalk open-API servers (real HTTP on 127.0.0.1) and request builders that sign
and encrypt events exactly as the platforms do."""
