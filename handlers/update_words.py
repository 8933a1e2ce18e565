"""The words of a status update, as people type them in Chinese work groups (and some English).

Status words say what happened (完成, 卡住, 开始 …); markers say it did not happen yet, might not, or
only partly: future and intention (快, 明天, 打算, will), ability and estimate (能, 应该, 可能),
negation (没, 不, 未, not), condition (如果, if), requests (请, 把), reported speech (听说, 他说),
partial completion (一半, 大部分, 还差, almost). `handlers.update_reading` weighs them.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Word(StrEnum):
    DONE = "done"
    DONE_WEAK = "done?"  # 提交了, 上线了, 好: probably done, asked
    STARTED = "started"
    BLOCKED = "blocked"
    BLOCKED_WEAK = "blocked?"  # 在等, 暂停: probably blocked, asked
    UNBLOCKED = "unblocked"
    NOTE = "note"


def _words(*alternatives: str) -> str:
    """Longest first, so that “做完” wins over “完”."""
    return "|".join(sorted(alternatives, key=len, reverse=True))


_RESULT_VERBS = (
    "写|改|测|画|跑|调|发|审|看|对|签|谈|装|搭|录|剪|印|订|买|做|干|弄|搞|整|办|修|配|排|拍|备|交|填|算|搬|约|"
    "整理|准备|处理|确认|提交|上传|部署|联系|沟通|安排|布置|统计|核对|测试|开发|设计|翻译|校对|审核|审批|评审|检查"
)
STATUS_WORDS: tuple[tuple[Word, re.Pattern[str]], ...] = (
    (Word.NOTE, re.compile(r"^(?:备注|备忘|记录一下|记一下|note|comment)\b\s*[:：]?", re.I)),
    (Word.UNBLOCKED, re.compile(
        _words("不卡了", "没卡了", "不堵了", "不阻塞了", "不再阻塞", "不再卡", "解除阻塞", "解除了阻塞", "阻塞解除", "阻塞已解除",
               "卡点解决", "卡点已解决", "阻塞已解决", "问题已解决",
               "问题解决了", "恢复推进", "恢复进行", "恢复了", "疏通了", "unblocked", "no longer blocked",
               "not blocked anymore", "not stuck anymore"), re.I)),
    (Word.BLOCKED, re.compile(
        _words("卡住", "被卡住", "被堵住",
               "卡在", "卡着", "卡壳", "被卡", "卡了", "阻塞", "受阻", "堵住", "堵在", "堵着", "被堵", "进行不下去",
               "做不下去", "推不动", "推进不了", "没法推进", "无法推进", "无法进行", "没法进行", "blocked", "stuck", "on hold",
               "stuck on", "stuck at", "blocked on", "blocked by", "stuck with", "blocked due to",
               "held up"), re.I)),
    (Word.BLOCKED_WEAK, re.compile(
        r"^等(?!等)|" + _words("在等", "等着", "等待", "暂停", "搁置", "停滞", "停了", "挂起", "waiting for", "waiting on",
                               "pending", "paused"), re.I)),
    (Word.STARTED, re.compile(
        _words("开始", "开工", "动工", "启动", "着手", "开干", "开做", "在做", "正在做", "做着", "在弄", "在搞", "在跟", "跟进中",
               "进行中", "推进中", "处理中", "在处理", "在推进", "在进行", "继续做", "继续推进", "继续", "started", "starting",
               "start", "in progress", "working on", "wip", "ongoing", "underway", "under way", "kicked off", "begun",
               "began", "on it")
        + r"|(?:开发|测试|联调|设计|制作|编写|撰写|准备|对接|整理|修改|调试|排查|筹备|执行|实施|施工|装修|排版|翻译)中"
        + r"|正在(?!等)|(?<=还)在(?=开发|测试|写|改|调|联调|对接|准备|整理|沟通|画|跑|排|设计)", re.I)),
    (Word.DONE, re.compile(
        _words("完成", "完工", "完事", "搞定", "搞掂", "结束", "收工", "done", "finished", "finish", "completed", "complete",
               "wrapped up", "✅", "✔", "☑", "好了")
        + rf"|(?:{_RESULT_VERBS})(?:完|好)(?!整|全|善|美|像|处|看|听|用)", re.I)),
    (Word.DONE_WEAK, re.compile(
        _words("上线", "发布", "提交", "交付", "发出", "寄出", "发给", "发送", "寄了", "交了", "给到", "通过", "定稿", "敲定",
               "谈妥", "解决", "ok", "okay", "shipped", "delivered", "submitted", "closed", "resolved", "fixed")
        + r"|(?:(?<=没)|(?<=未)|(?<![\u4e00-\u9fff]))好(?=\s*$|[了啦，,。!！])", re.I)),
)

# After a status word: it is not a status (完成度, 完成情况), or it did not happen (完成前, 完成不了, 完成了吗).
NOT_A_STATUS_AFTER = re.compile(r"^(?:度|率|量|情况|时间|日期|节点|标准|的|计划|目标|者|原因|理由|点|风险|问题|期限)")
NOT_YET_AFTER = re.compile(
    r"^\s*(?:了)?(?:前|之前|以前|的时候|时|后|之后|以后|的话|不了|不完|不成|不好|不下来|不到|没|没有|吗|么|呢|否|与否|没呢|"
    r"得了|得完|得怎么样|得如何|多少|by\b|before\b|after\b|tomorrow\b|soon\b|later\b|next\b)",
    re.I,
)
PARTIAL_AFTER = re.compile(r"^\s*了?\s*(?:一部分|部分|大部分|一些|一点|初稿|草稿|一小半|小半|第一版|第一阶段|一期)")
MAYBE_AFTER = re.compile(r"^\s*(?:了)?(?:吧|吧[。.!！]?)")
PERFECTIVE_AFTER = re.compile(r"^\s*(?:做|干|弄|搞)?(?:了|啦|喽|咯|噢|哦|✅|👌|!|！)")


class Marker(StrEnum):
    QUESTION = "question"
    NEGATION = "negation"
    FUTURE = "future"
    CONDITION = "condition"
    REQUEST = "request"
    PARTIAL = "partial"
    MODAL = "modal"  # 应该, 可能: an estimate; asked when it says it happened (应该完成了)
    ABILITY = "ability"  # 能, 可以: it could, so it has not
    REPORTED = "reported"  # 听说, 他说: asked, not applied
    TIME = "time"  # 今天, 下午, 周五: a plan unless it says it happened
    PERFECTIVE = "perfective"  # 已经, 已, 刚: it happened
    CONTRAST = "contrast"  # 但是, 不过: asked when it follows a completion


# Scanned left to right; at each place the first kind that matches wins, so multi-character words
# that contain a marker (差不多, 非常, 需要, 开会) are named before the marker they contain.
_MARKER_WORDS: dict[str, tuple[tuple[str, ...], str]] = {
    "filler": ((
        "非常", "没什么", "没啥", "前端", "前台", "前期", "前置", "提前", "目前", "说明", "智能", "预约", "差点没", "没问题",
        "没事",
        "没关系", "不错", "不用担心", "开会", "会议", "功能", "性能", "可能性", "主要", "重要", "只要求", "要求",
        "不少", "不断", "马上就好了",
    ), ""),
    "partial": ((
        "一半", "大半", "大部分", "部分", "多半", "小半", "差不多", "基本上", "基本", "初步", "初稿", "草稿", "还差",
        "还剩", "剩下", "剩余", "只差", "就差", "接近", "将近", "几乎", "快要", "一部分", "还有", "只剩", "就剩",
        "除了", "差一点", "差点", "眼看",
    ), r"\b(?:almost|nearly|mostly|partly|partially|half|most of|part of|except|draft|close to)\b"),
    "condition": ((
        "如果", "要是", "假如", "假设", "万一", "若是", "只要", "除非", "一旦", "的话", "等到", "防止", "避免", "以免", "免得",
        "预防", "小心", "担心", "怕", "以防",
    ), r"(?<![\u4e00-\u9fff])若|\b(?:if|unless|once|in case)\b"),
    "reported": ((
        "听说", "据说", "说是", "他说", "她说", "据", "反馈说", "觉得", "认为", "以为", "感觉", "好像", "似乎",
        "貌似", "不知道", "不确定",
    ), r"说|\b(?:said|says|heard|apparently|seems?|think|guess|reportedly)\b"),
    "request": ((
        "请", "麻烦", "帮忙", "帮我", "把", "记得", "务必", "一定要", "必须", "需要", "需", "催", "提醒", "让", "叫", "抓紧",
        "赶紧", "赶快", "尽早", "早点", "加紧", "快点",
    ), r"\b(?:please|pls|need to|needs to|have to|has to|must)\b"),
    "negation": ((
        "还没有", "还没", "没有", "没", "沒", "未", "尚未", "别", "无法", "没法", "木有", "甭", "并非",
    ), r"不|非|\b(?:not|never|no|cannot|yet)\b|n't\b"),
    "future": ((
        "快", "马上", "立刻", "立即", "即将", "将要", "就要", "要", "将", "会", "准备", "打算", "计划", "争取",
        "力争", "预计", "预期", "有望", "尽量", "尽快", "希望", "想", "待", "等下", "等会", "回头", "稍后", "晚点",
        "晚些", "一会", "待会", "过会", "明天", "明早", "明晚", "明日", "后天", "大后天", "下周", "下礼拜", "下星期",
        "下个月", "下月", "下次", "之后", "以后", "还得", "还要", "得先", "先", "保证", "确保",
        "承诺", "一定", "正在", "过两天", "过几天", "这两天",
        "改天", "年后", "节后",
    ), r"\b(?:will|shall|going to|gonna|plan(?:s|ned|ning)?|expect(?:s|ed|ing)?|soon|tomorrow|tonight|later|next|about to|eta|"
       r"try|trying|aim(?:ing)?|hope|hoping|hopefully|want|wants|would|should|by|before|after|until|till|to|"
       r"let me|let's|lets|ready to)\b|'ll\b"),
    "ability": (("能", "可以", "可"), r"\b(?:can|could)\b"),
    "modal": ((
        "可能", "应该", "应当", "也许", "大概", "或许", "估计", "说不定", "大约", "左右", "约",
    ), r"\b(?:might|may|probably|maybe|likely|perhaps)\b"),
    "time": ((
        "今天", "今日", "上午", "中午", "下午", "晚上", "今晚", "周末", "月底", "月初", "年底", "下班", "前", "本周内", "本周",
        "这周", "这礼拜", "这星期", "本月", "这个月", "月内", "周内", "年内",
    ), r"(?:周|星期|礼拜)[一二三四五六日天]|\d{1,2}\s*(?:点|号|日|月|:\d\d)"
       r"|\b(?:today|this (?:morning|afternoon|evening|week))\b"),
    "perfective": ((
        "已经", "已", "刚刚", "刚", "终于", "总算", "顺利", "都", "全部", "全都", "均已", "均",
    ), r"\b(?:already|finally|just|now|fully|all)\b"),
    "contrast": (("但是", "但", "不过", "只是", "可是", "然而"), r"\b(?:but|however|though)\b"),
}
_MARKERS = re.compile(
    "|".join(f"(?P<{kind}>{_words(*words)}{'|' + extra if extra else ''})" for kind, (words, extra) in _MARKER_WORDS.items()),
    re.I,
)


def markers(text: str) -> list[tuple[Marker, int, int]]:
    """The markers of a text in order: (kind, start, end); fillers such as 非常 or 开会 are skipped."""
    found = []
    for match in _MARKERS.finditer(text):
        kind = match.lastgroup
        if kind and kind != "filler":
            found.append((Marker(kind), match.start(), match.end()))
    return found


QUESTION = re.compile(
    r"[?？]|吗|(?<!什)么\s*$|呢\s*$|是否|有没有|能不能|可不可以|会不会|是不是|要不要|行不行|好不好|多少|几成|几时|哪天|哪一天|"
    r"(?<!没)什么(?!都)|(?<!没)啥|何时|怎么|怎样|咋|如何|\b(?:when|how|what|why|whether|did|does|is it|are you|any update)\b",
    re.I,
)
# Filler that does not name a part of the work: who says it, “this one”, aspect and mood particles.
FILLER = re.compile(
    r"[\s,，。.!！~～、:：;；()（）\"“”'‘’👌✅🎉💪👍]|了|啦|喽|咯|啊|呀|哈|哦|噢|嗯|的|就|也|再|又|还|都|已经?|"
    r"我们?|咱们?|这边|那边|这个|那个|这项|这条|这块|该|此|任务|事情?|活儿?|工作|整体|全部|全都|终于|总算|顺利|刚刚?|今天|今日|"
    r"上午|下午|中午|晚上|刚才|目前|现在|总算|昨天|昨晚|前天|上周|提前|按时|准时|\b(?:yesterday|earlier|on time|last week)\b|"
    r"\b(?:is|are|was|were|has|have|been|be|it|this|that|the|task|all|now|just|"
    r"finally|already|fully|totally|completely|officially|we|i|i'm|we're|it's|and)\b",
    re.I,
)
