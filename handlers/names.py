"""The nearest of some names to what a person typed (“@李思” → 李四, “部门:研发” → 研发部).

Phone keyboards type Chinese by sound, so the usual slip is a homophone (李思 for 李四) or a near
sound (张山 for 张三): names are compared by their pinyin (pypinyin) as well as by their characters.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pypinyin import lazy_pinyin

CLOSE_SPELLING = 0.5  # characters: 研发二部 / 研发部 0.86; two-character names one character apart 0.5
CLOSE_SOUND = 0.8  # pinyin: zhangshan / zhangsan 0.94; liming / lisi 0.4 (another person)


def sound(name: str) -> str:
    return "".join(lazy_pinyin(name.lower()))


def _close(typed: str, name: str, *, by_sound: bool) -> bool:
    if by_sound:
        return difflib.SequenceMatcher(None, sound(typed), sound(name)).ratio() >= CLOSE_SOUND
    return difflib.SequenceMatcher(None, typed, name.lower()).ratio() >= CLOSE_SPELLING


def nearest_names(typed: str, names: Iterable[str], *, limit: int = 3, by_sound: bool = False) -> list[str]:
    """Names that contain what was typed (or are contained in it), then the close ones, best first.

    `by_sound` (people's names): close means sounding alike, so 李四 is near 李思 but not 李明.
    """
    typed = typed.strip().lower()
    known = list(dict.fromkeys(n for n in names if n))
    if not typed or not known:
        return []
    containing = [n for n in known if typed in n.lower() or n.lower() in typed]
    close = [n for n in known if _close(typed, n, by_sound=by_sound)]
    close.sort(key=lambda n: -difflib.SequenceMatcher(None, sound(typed), sound(n)).ratio())
    return list(dict.fromkeys([*containing, *close]))[:limit]
