"""What a reply's header and closing lines say: proposer, number, session, units (the fields
``ReplyDocument`` has always had) and the ``HeaderFacts`` — issuer, kind, 办理结果, 文号, 签发人,
dates, contact and 抄送. Read from the header fields first, then the title, addressee and closing."""

from __future__ import annotations

import re

from assistant.reading.header import ISSUER_LINE, OFFICE_END, REPLY_TITLE_END, Preamble
from assistant.reading.numbers import normalize_suggestion_no, suggestion_numbers
from assistant.reading.sections import SPACE, Line
from assistant.schema import HeaderFacts, ReplyDocument

__all__ = ["DATE_LINE", "fill_header_attributes", "normalize_date"]

_SESSION = re.compile(
    r"((?:全国|省|市|州|区|县|自治区)?(?:人大|政协)?(?:第)?[一二三四五六七八九十]{1,3}届(?:全国)?"
    r"(?:人大|人民代表大会|政协)?(?:常委会)?(?:第)?[一二三四五六七八九十]{1,3}次(?:全体)?会议)"
)
_NAMES_SPLIT = re.compile(r"[、，,；;]")
_PERSON = re.compile(r"^(?:尊敬的)?(?P<name>[\u4e00-\u9fff·]{2,5}?)(?:代表|委员|同志)?(?:等(?P<count>\d+)人)?$")
_ROLE = re.compile(r"[（(](主办|会办|协办)[）)]$")
_CN_DIGITS = dict(zip("〇○零一二三四五六七八九", "000123456789", strict=True))
_DATE = re.compile(
    r"(?P<y>[12]\d{3}|[〇○零一二三四五六七八九]{4})[ \u3000]*(?:年|-|/|\.)[ \u3000]*"
    r"(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})[ \u3000]*(?:月|-|/|\.)[ \u3000]*"
    r"(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})(?!\d)"
)
#: A line that is only a date: "2024年6月26日", "二〇二四年六月二十六日", "2024-06-26" — the closing's date line.
DATE_LINE = re.compile(r"^[（(]?[ \u3000]*" + _DATE.pattern + r"[ \u3000]*日?[ \u3000]*[）)]?$")
_CONTACT = re.compile(r"联系人[:：][ \u3000]*(?P<who>[^；;，,\s（）()]+)(?:[，,](?P<office>[^；;（）()\s]+))?")
_PHONE = re.compile(r"联系电话[:：][ \u3000]*(?P<phone>[0-9０-９][0-9０-９\-－—]{5,}[0-9０-９])")
_SIGNED = re.compile(r"^[（(]?(?:签发人[:：][ \u3000]*(?P<who>[\u4e00-\u9fff·]{2,5})|签发日期[:：](?P<when>.+))")
_CC = re.compile(r"^抄送[:：][ \u3000]*(?P<units>.+?)[。.]?$")
_TITLE_ISSUER = re.compile(r"^(?P<issuer>[^。！？；，,]{2,30}?" + OFFICE_END + r")关于")


def fill_header_attributes(doc: ReplyDocument, header: Preamble, addressee: Line | None,
                           tail: list[Line]) -> None:
    """Proposer, session, units, number and ``doc.header`` from the header fields, else from the
    title, the addressee and the closing lines (``tail``: the document's last lines)."""
    fields = header.fields
    facts = HeaderFacts()
    facts.proposers, facts.proposer_count = _proposers(fields.get("代表提案者", ""))
    doc.proposer = "、".join(facts.proposers) if facts.proposers else fields.get("代表提案者", "")
    doc.session = fields.get("会议届次", "")
    doc.main_unit, doc.co_units = _units(fields.get("主办单位", ""), fields.get("会办单位", ""))
    doc.suggestion_no = normalize_suggestion_no(fields.get("建议提案编号", ""))
    names_a_proposal = re.search(r"建议|提案|议案", doc.title)
    if not doc.suggestion_no and names_a_proposal:
        named = suggestion_numbers(doc.title)
        doc.suggestion_no = named[0] if named else ""
    if not doc.session and names_a_proposal:
        match = _SESSION.search(doc.title)
        doc.session = match.group(1) if match else ""
    if addressee is not None:
        facts.addressee = addressee.text.rstrip(":：").strip(SPACE)
        if not doc.proposer:
            name = re.match(r"^(?:尊敬的)?([\u4e00-\u9fff·]{2,5}?)(?:代表|委员)$", facts.addressee)
            if name and not re.match(r"^(各位|全体|各|诸位)", name.group(1)):
                doc.proposer = name.group(1)
                facts.proposers = [name.group(1)]
    facts.kind = _kind(doc, fields)
    result = fields.get("办理结果", "")
    facts.result = result
    facts.result_class = result[0].translate(str.maketrans("ＡＢＣ", "ABC")) if re.match(r"^[ABCＡＢＣ]类", result) else ""
    facts.doc_number = fields.get("文号", "")
    facts.published = normalize_date(header.page.get("发布日期", ""))
    _read_closing(facts, tail)
    facts.signer = fields.get("签发人", "") or facts.signer
    facts.date = normalize_date(fields.get("签发日期", "")) or facts.date
    facts.issuer = header.issuer or _title_issuer(doc.title) or facts.issuer or header.page.get("发布机构", "")
    doc.header = facts


def normalize_date(text: str) -> str:
    """The first full date in ``text`` as YYYY-MM-DD ("2024年7月5日", "二〇二四年七月五日",
    "2024-07-22 10:30"), or "" when there is none."""
    match = _DATE.search(text or "")
    if not match:
        return ""
    year = "".join(_CN_DIGITS.get(ch, ch) for ch in match.group("y"))
    month, day = _small_number(match.group("m")), _small_number(match.group("d"))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return ""
    return f"{year}-{month:02d}-{day:02d}"


def _small_number(written: str) -> int:
    if written.isdigit():
        return int(written)
    tens, _, ones = written.rpartition("十")
    if "十" not in written:
        return int(_CN_DIGITS[written])
    return (int(_CN_DIGITS[tens]) if tens else 1) * 10 + (int(_CN_DIGITS[ones]) if ones else 0)


def _proposers(value: str) -> tuple[list[str], int | None]:
    """"黄志坚委员等5人" → (["黄志坚"], 5); "张三、李四" → (["张三", "李四"], None)."""
    names, count = [], None
    for part in _NAMES_SPLIT.split(value):
        match = _PERSON.match(part.strip(SPACE))
        if match is None:
            return [], None  # not a list of names (an office, a sentence): keep the value as written
        names.append(match.group("name"))
        count = int(match.group("count")) if match.group("count") else count
    return names, count


def _units(main: str, co: str) -> tuple[str, str]:
    """"X局（主办）、Y局（协办）" in one 承办单位 field → ("X局", "Y局"); otherwise as written."""
    parts = [p.strip(SPACE) for p in re.split(r"[、，,]", main) if p.strip(SPACE)]
    if not any(_ROLE.search(p) for p in parts):
        return main, co
    lead = [_ROLE.sub("", p) for p in parts if (m := _ROLE.search(p)) is None or m.group(1) == "主办"]
    others = [_ROLE.sub("", p) for p in parts if (m := _ROLE.search(p)) is not None and m.group(1) != "主办"]
    return "、".join(lead), "、".join(filter(None, [*others, co]))


def _kind(doc: ReplyDocument, fields: dict[str, str]) -> str:
    if not (doc.suggestion_no or fields.get("建议提案标题")):
        return ""  # not a reply to a suggestion (news about a 政协 meeting is no 提案)
    said = " ".join((doc.title, doc.session, fields.get("建议提案标题", ""), fields.get("文号", "")))
    if "政协" in said or re.search(r"号提案|提案的答复|提案办理", said):
        return "政协提案"
    if re.search(r"人大|人民代表大会|代表建议|号建议", said):
        return "人大代表建议"
    return ""


def _title_issuer(title: str) -> str:
    """"遵义市教育局关于……的答复" → "遵义市教育局" (only a reply's title names its writer so)."""
    match = _TITLE_ISSUER.match(title) if REPLY_TITLE_END.search(title) else None
    return match.group("issuer") if match else ""


def _read_closing(facts: HeaderFacts, tail: list[Line]) -> None:
    """Contact, phone, 抄送, the signing date and the signature from the document's last lines."""
    for line in tail:
        text = line.text
        contact, phone, cc = _CONTACT.search(text), _PHONE.search(text), _CC.match(text)
        if contact and re.match(r"^[（(]?联系人", text):
            facts.contact, facts.contact_office = contact.group("who"), contact.group("office") or ""
        if phone and re.search(r"^[（(]?联系(人|电话)", text):
            facts.phone = phone.group("phone")
        signed = _SIGNED.match(text)
        if signed:  # a 签发人 / 签发日期 line among the closing lines
            facts.signer = signed.group("who") or facts.signer
            facts.date = normalize_date(signed.group("when") or "") or facts.date
        if cc:
            facts.cc = [u.strip(SPACE) for u in re.split(r"[，,、；;]", cc.group("units")) if u.strip(SPACE)]
        if DATE_LINE.match(text):
            facts.date = normalize_date(text)
        if ISSUER_LINE.match(text) and not text.endswith("文件"):  # the signature: an office's name alone
            facts.issuer = text
