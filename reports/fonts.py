"""The CJK font the pictures are drawn with: Noto Sans CJK SC, shipped inside the `mplfonts` wheel.

So `pip install` alone gives real Chinese glyphs on a bare machine (no system fonts needed). We take
only the font file from the package and register it with matplotlib ourselves: mplfonts' own setup
writes matplotlib's rc files, which a server should not do.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from pathlib import Path

FONT_FILE = "NotoSansCJKsc-Regular.otf"
_lock = threading.Lock()


def cjk_font_path() -> Path:
    path = Path(str(resources.files("mplfonts") / "fonts" / FONT_FILE))
    if not path.is_file():
        raise RuntimeError(f"the CJK font {FONT_FILE} is missing from the mplfonts package")
    return path


@cache
def cjk_font_family() -> str:
    """Register the font with matplotlib (once per process) and give its family name."""
    from matplotlib import font_manager

    with _lock:
        path = cjk_font_path()
        font_manager.fontManager.addfont(str(path))
        return font_manager.FontProperties(fname=str(path)).get_name()
