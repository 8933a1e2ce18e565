"""Try Tandem with Feishu and DingTalk without an account: fake platforms on 127.0.0.1 and a chat prompt.

    python -m tests.fakes                     # prints the settings for `tandem serve`, then a prompt
    f 王经理: /项目 创建 新品发布会 截止:12月20日   # a Feishu group message from 王经理 (@Tandem added)
    d 李四: #1 完成                            # a DingTalk group message from 李四
    f 王经理: /任务 新增 写发布稿 @李四            # @名字 mentions another person of the demo

Messages go to the running app signed and encrypted as the platforms send them; whatever Tandem posts
back to the fake open APIs is printed as it arrives.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import time

import httpx

from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.fakes.server import ServerThread

FEISHU_CHAT, DINGTALK_CHAT = "oc_demo_group", "cidDemoGroup=="


def _id(prefix: str, name: str) -> str:
    return prefix + hashlib.sha1(name.encode()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tandem", default="http://127.0.0.1:8000", help="where `tandem serve` listens")
    parser.add_argument("--feishu-port", type=int, default=9001)
    parser.add_argument("--dingtalk-port", type=int, default=9002)
    args = parser.parse_args()

    feishu = FeishuFake(app_id="cli_demo0000000001")
    dingtalk = DingTalkFake()
    feishu_server = ServerThread(feishu.app, port=args.feishu_port, lifespan="off").start()
    dingtalk_server = ServerThread(dingtalk.app, port=args.dingtalk_port, lifespan="off").start()
    feishu.url, dingtalk.base_url = feishu_server.url, dingtalk_server.url
    print("Fake Feishu and DingTalk are up. Start Tandem against them (in another terminal):\n")
    print(f"  export TANDEM_FEISHU_APP_ID={feishu.app_id} TANDEM_FEISHU_APP_SECRET={feishu.app_secret}")
    print(
        f"  export TANDEM_FEISHU_VERIFICATION_TOKEN={feishu.verification_token} TANDEM_FEISHU_ENCRYPT_KEY='{feishu.encrypt_key}'"
    )
    print(f"  export TANDEM_FEISHU_BASE_URL={feishu.url}")
    print(f"  export TANDEM_DINGTALK_CLIENT_ID={dingtalk.client_id} TANDEM_DINGTALK_CLIENT_SECRET={dingtalk.client_secret}")
    print(f"  export TANDEM_DINGTALK_BASE_URL={dingtalk.base_url}")
    print(f"  export TANDEM_DINGTALK_OAPI_URL={dingtalk.base_url}")
    print("  tandem serve\n")
    print("Then type `f 名字: 消息` (Feishu) or `d 名字: 消息` (DingTalk); Ctrl-D to quit.\n")

    stop = threading.Event()
    threading.Thread(target=_print_replies, args=(feishu, dingtalk, stop), daemon=True).start()
    client = httpx.Client(base_url=args.tandem, timeout=10)
    try:
        for line in sys.stdin:
            platform, _, rest = line.strip().partition(" ")
            name, _, text = rest.partition(":")
            if platform not in ("f", "d") or not text.strip():
                print("  (format: f 名字: 消息  or  d 名字: 消息)")
                continue
            _register_mentions(feishu, dingtalk, text)
            try:
                if platform == "f":
                    sender = feishu.add_user(_id("ou_", name.strip()), name.strip())
                    body, headers = feishu.request(feishu.message_event(FEISHU_CHAT, sender, text.strip()))
                    response = client.post("/webhook/feishu", content=body, headers=headers)
                else:
                    sender = dingtalk.add_user(_id("staff_", name.strip()), name.strip())
                    body, headers = dingtalk.request(dingtalk.message(DINGTALK_CHAT, sender, text.strip()))
                    response = client.post("/webhook/dingtalk", content=body, headers=headers)
            except httpx.HTTPError as exc:
                print(f"  (Tandem is not reachable at {args.tandem}: {exc})")
                continue
            if response.status_code != 200:
                print(f"  (HTTP {response.status_code}: {response.text})")
    finally:
        stop.set()
        client.close()
        feishu_server.stop()
        dingtalk_server.stop()


def _register_mentions(feishu: FeishuFake, dingtalk: DingTalkFake, text: str) -> None:
    """Every `@名字` is someone in the demo groups."""
    for word in text.split():
        if word.startswith("@") and len(word) > 1:
            feishu.add_user(_id("ou_", word[1:]), word[1:])
            dingtalk.add_user(_id("staff_", word[1:]), word[1:])


def _print_replies(feishu: FeishuFake, dingtalk: DingTalkFake, stop: threading.Event) -> None:
    shown_feishu = shown_dingtalk = 0
    while not stop.is_set():
        for posted in feishu.posted[shown_feishu:]:
            print(f"\n[飞书 Tandem] {posted.text}\n")
        shown_feishu = len(feishu.posted)
        for sent in dingtalk.sent[shown_dingtalk:]:
            print(f"\n[钉钉 Tandem via {sent.via}] {sent.text}\n")
        shown_dingtalk = len(dingtalk.sent)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
