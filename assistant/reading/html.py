"""HTML: a government web page's bytes → its main text (paragraphs as lines, table cells as tabs) and title.

Page chrome (navigation, breadcrumbs, share and print widgets, footers, link lists) is removed by
tag, by class/id words and by line, while the page's metadata table (索引号/发布机构/发布日期/文号)
and the reply's header stay in document order for the parser.
Hand-written rather than trafilatura 2.3 (Apache-2.0): on these pages it drops or moves the metadata
table, writes tables as Markdown pipes instead of cells, keeps print/share widgets, and needs ~70 MB of deps.
"""

from __future__ import annotations

import re

from assistant.reading.encoding import decode_text

__all__ = ["html_to_text"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_CHROME_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                "iframe", "button", "select", "input", "textarea", "svg", "canvas", "object", "embed",
                "link", "meta", "head")
# Class/id words that mark page chrome; "header"/"head"/"top"/"bottom" only as whole tokens, because
# "article-header" holds the title.
_CHROME_ATTR = re.compile(
    # distinctive words, anywhere in a token ("mainMenu", "topnav", "bdshare") …
    r"nav|menu|breadcrumb|crumb|footer|copyright|sidebar|side-bar|toolbar|share|qrcode|fenxiang|dqwz|"
    r"xgxx|friend-?link|yqlj|"
    # … and generic ones only as whole words ("search" but not "research")
    r"(?:^|[-_])(?:login|search|banner|skip|location|position|related|ewm)(?:$|[-_\d])",
    re.IGNORECASE,
)
# Layout utility classes that contain a chrome word but hold content ("position-relative").
_LAYOUT_CLASS = re.compile(r"^position-(?:relative|absolute|fixed|static|sticky)$", re.IGNORECASE)
_CHROME_TOKENS = {"header", "head", "top", "bottom", "foot", "topbar", "site-header", "site-footer"}
_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "tr", "table", "tbody",
               "thead", "tfoot", "section", "article", "main", "blockquote", "pre", "dd", "dt", "dl",
               "hr", "center", "figure", "figcaption", "address", "caption"}
# Chrome phrases that survive as text (links styled as buttons); a short line made only of these goes.
# Longer phrases before their prefixes ("打印本页" before "打印").
_CHROME_WORDS = (
    "打印本页", "打印此页", "打印", "关闭窗口", "关闭本页", "关闭", "分享到", "分享", "收藏本页", "收藏",
    "返回顶部", "返回首页", "返回", "字体", "字号", "默认", "大", "中", "小", "微信", "微博", "QQ空间", "QQ",
    "扫一扫在手机打开当前页", "扫一扫", "【", "】", r"\[", r"\]", r"[|｜:：\s]",
)
_CHROME_PHRASES = re.compile("|".join(_CHROME_WORDS))
_FONT_WIDGET = re.compile(r"[【\[]?\s*字[体号][:：]?\s*[【\[]?大[】\]]?\s*[【\[]?中[】\]]?\s*[【\[]?小[】\]]?\s*[】\]]?")
# Whole lines of chrome: breadcrumbs, copyright and filing numbers, view counters, site links.
_CHROME_LINE_PATTERNS = (
    r"^(当前位置|您现在的位置|您当前的位置|所在位置|位置)[:：].*",
    r"^首页\s*[>＞›»].*",
    r"^.*版权所有.*$",
    r"^.*ICP[备证].*$",
    r"^.*公网安备.*$",
    r"^网站标识码.*$",
    r"^(浏览次数|访问次数|阅读次数|点击数|浏览量)[:：].*$",
    r"^(上一篇|下一篇)[:：].*$",
    r"^网站地图$", r"^联系我们$", r"^无障碍$",
)
_CHROME_LINES = re.compile("|".join(_CHROME_LINE_PATTERNS))


def _decode_html(data: bytes) -> str:
    match = _META_CHARSET.search(data[:4096])
    if match:
        declared = match.group(1).decode("ascii").lower()
        if declared in ("gb2312", "gbk", "gb_2312-80", "x-gbk"):
            declared = "gb18030"  # the superset: GB2312-labelled pages routinely use GBK characters
        try:
            return data.decode(declared).lstrip("\ufeff")
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)[0]


def html_to_text(data: bytes) -> tuple[str, str | None]:
    """The main text of a government web page, paragraphs as lines, and its title."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode_html(data), "lxml")
    title = _html_title(soup)
    body = soup.body or soup
    for tag in body.find_all(_CHROME_TAGS):
        tag.decompose()
    for tag in body.find_all(True):
        if tag.decomposed:
            continue
        if _is_chrome_element(tag):
            tag.decompose()
    for tag in body.find_all(["ul", "ol", "div", "table", "p", "span", "td"]):
        if not tag.decomposed and _is_link_list(tag):
            tag.decompose()
    parts: list[str] = []
    _html_walk(body, parts)
    lines = []
    for line in "".join(parts).split("\n"):
        line = re.sub(r"[ \t\u00a0]*\t[ \t\u00a0]*", "\t", line)
        line = _FONT_WIDGET.sub("", line)
        line = re.sub(r"[ \u00a0]{2,}", " ", line).strip(" \t\u00a0\u3000")
        if not line or _is_chrome_line(line):
            continue
        lines.append(line)
    return "\n".join(lines), title


def _is_chrome_element(tag) -> bool:
    attrs = getattr(tag, "attrs", None)
    if attrs is None:
        return False
    if "hidden" in attrs or re.search(r"display\s*:\s*none", attrs.get("style", "") or "", re.IGNORECASE):
        return True
    role = (attrs.get("role") or "").lower()
    if role in ("navigation", "banner", "contentinfo", "search", "menu", "menubar"):
        return True
    tokens = list(attrs.get("class") or []) + ([attrs["id"]] if attrs.get("id") else [])
    for token in tokens:
        token = str(token).lower()
        if token in _CHROME_TOKENS or (_CHROME_ATTR.search(token) and not _LAYOUT_CLASS.match(token)):
            return True
    return False


def _is_link_list(tag) -> bool:
    """A block that is mostly links (menus, "related articles", footers without markup)."""
    links = tag.find_all("a")
    if len(links) < 3:
        return False
    text = tag.get_text(" ", strip=True)
    if not text:
        return False
    link_text = sum(len(a.get_text(" ", strip=True)) for a in links)
    return link_text / len(text) >= 0.8


def _is_chrome_line(line: str) -> bool:
    if _CHROME_LINES.match(line):
        return True
    return len(line) <= 40 and not _CHROME_PHRASES.sub("", line)


def _html_walk(node, out: list[str]) -> None:
    from bs4 import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction

    for child in node.children:
        if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            out.append(re.sub(r"[ \t\r\n\f]+", " ", str(child)))
            continue
        name = child.name
        if name == "br":
            out.append("\n")
        elif name in ("td", "th"):
            _html_walk(child, out)
            out.append("\t")
        elif name == "pre":
            out.append("\n" + child.get_text() + "\n")
        elif name in _BLOCK_TAGS:
            out.append("\n")
            _html_walk(child, out)
            out.append("\n")
        else:
            _html_walk(child, out)


def _html_title(soup) -> str | None:
    """An <h1> that the <title> confirms, else the <title>'s longest part, else the first <h1>."""
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    headings = [h.get_text(" ", strip=True) for h in soup.find_all("h1")]
    headings = [h for h in headings if h]
    confirmed = [h for h in headings if len(h) >= 4 and h in page_title]
    if confirmed:
        return max(confirmed, key=len)
    if page_title:
        parts = [p.strip() for p in re.split(r"\s*(?:_|\||｜|--|—|-\s)\s*", page_title) if p.strip()]
        return max(parts, key=len) if parts else page_title
    return headings[0] if headings else None
