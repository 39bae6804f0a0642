"""Which Chinese text a Chromium page drew without a CJK font (tofu), from Chromium's own
account of the fonts it used for each node (DevTools CSS.getPlatformFontsForNode)."""

from __future__ import annotations

import re
from typing import Any

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def fonts_of_text(page: Any) -> dict[str, set[str]]:
    """Each rendered text node's text -> the font families Chromium drew it with."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    out: dict[str, set[str]] = {}

    def walk(node: dict[str, Any], parent: str = "") -> None:
        if node.get("nodeType") == 3 and node.get("nodeValue", "").strip() and parent not in ("TITLE", "STYLE",
                                                                                              "SCRIPT"):
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["parentId"]})["fonts"]
            out.setdefault(node["nodeValue"], set()).update(f["familyName"] for f in fonts)
        for child in node.get("children", []):
            child.setdefault("parentId", node["nodeId"])
            walk(child, node.get("nodeName", ""))
    walk(root)
    cdp.detach()
    return out


def cjk_without_font(page: Any) -> dict[str, set[str]]:
    """Text holding Chinese that no CJK font drew (empty: every character has its glyph). Text
    not drawn at all (a hidden element: no fonts) is not counted."""
    return {t: f for t, f in fonts_of_text(page).items() if CJK.search(t) and f and not any("CJK" in x for x in f)}
