"""Loaders on real files written by the tests: encodings, HTML, DOCX, PDF, JSONL, and bad inputs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from assistant.reading.loaders import (
    MAX_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    LoadError,
    RawText,
    decode_text,
    iter_files,
    iter_jsonl,
    load_file,
    slugify,
)
from assistant.reading.parser import parse_reply

SEED = Path(__file__).resolve().parents[1] / "corpus" / "reply-616-guiyang.txt"
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

REPLY = (
    "贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复\n"
    "凌毅代表:\n"
    "您提出的建议收悉。现将办理情况答复如下:\n"
    "一、关于“区县配对联动”的建议\n"
    "一是构建“外环”城市经济圈。加快建设以贵阳贵安为核心的城市经济圈。二是探索产业合作新模式。\n"
    "衷心感谢并欢迎您继续关心和支持我市经济社会发展各个方面的工作。\n"
)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- plain text encodings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data",
    [
        ("utf8.txt", REPLY.encode("utf-8")),
        ("utf8-bom.txt", b"\xef\xbb\xbf" + REPLY.encode("utf-8")),
        ("gbk.txt", REPLY.encode("gbk")),
        ("gb18030.md", REPLY.encode("gb18030")),
        ("utf16-bom.txt", REPLY.encode("utf-16")),  # BOM + native order
        ("utf16le-nobom.txt", REPLY.encode("utf-16-le")),
        ("utf16be-nobom.txt", REPLY.encode("utf-16-be")),
        ("crlf.txt", REPLY.replace("\n", "\r\n").encode("gbk")),
    ],
)
def test_text_encodings_are_detected_from_the_bytes(tmp_path, name, data):
    [raw] = load_file(_write(tmp_path / name, data))
    assert raw.text == REPLY  # exact text, BOM dropped, CRLF → LF
    assert raw.doc_id == slugify(name.rsplit(".", 1)[0])
    assert raw.source == str(tmp_path / name)


def test_seed_reply_round_trips_through_every_encoding(tmp_path):
    seed = SEED.read_text(encoding="utf-8")
    for encoding in ("gbk", "utf-16", "utf-16-le", "utf-8-sig"):
        [raw] = load_file(_write(tmp_path / f"seed-{encoding}.txt", seed.encode(encoding)))
        assert raw.text == seed, encoding


def test_decode_reports_the_encoding():
    assert decode_text("答复内容".encode("gbk")) == ("答复内容", "gb18030")
    assert decode_text("答复内容".encode()) == ("答复内容", "utf-8")
    assert decode_text(b"\xef\xbb\xbfabc") == ("abc", "utf-8-sig")


def test_a_utf8_file_cut_inside_its_last_character_still_loads(tmp_path):
    data = REPLY.encode("utf-8") + "答".encode()[:2]
    [raw] = load_file(_write(tmp_path / "cut.txt", data))
    assert raw.text == REPLY


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.txt", b"", "文件为空"),
        ("blank.md", b"  \r\n\t\n  ", "文件为空"),
        ("bom-only.txt", b"\xef\xbb\xbf\n", "文件为空"),
        ("binary.txt", bytes(range(256)) * 8, "binary"),
        ("controls.txt", b"report\x01\x02\x03\x04 data\x05\x06" * 40, "binary"),
        ("zip.txt", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(200), "binary"),
    ],
)
def test_empty_and_binary_files_are_refused(tmp_path, name, data, reason):
    with pytest.raises(LoadError, match=reason):
        load_file(_write(tmp_path / name, data))


def test_text_that_no_encoding_explains_is_refused(tmp_path):
    # UTF-8 Chinese with invalid bytes in the middle: not UTF-8, and GB18030 reads it as rare-character
    # soup, which the sanity check rejects.
    seed = SEED.read_bytes()
    data = seed[:600] + b"\xff\xfe\xfa\xfb" + seed[600:1500]
    with pytest.raises(LoadError, match="无法识别的文件编码 / unrecognised text encoding"):
        load_file(_write(tmp_path / "broken.txt", data))


def test_oversized_files_are_refused_with_size_and_limit(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as fh:  # sparse: no 20 MB written to disk
        fh.truncate(MAX_FILE_BYTES + 1024 * 1024)
    with pytest.raises(LoadError) as info:
        load_file(path)
    message = str(info.value)
    assert "文件过大" in message and "21.0 MB" in message and "20 MB" in message


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(LoadError, match="不支持的文件类型"):
        load_file(_write(tmp_path / "sheet.xlsx", b"PK"))
    with pytest.raises(LoadError, match="no such file"):
        load_file(tmp_path / "nope.txt")


# ---- HTML -----------------------------------------------------------------------------------------

GOV_PAGE = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复_建议提案办理_贵阳市人民政府</title>
<style>.content { font-size: 16px }</style>
<script>var banner = "一、这段脚本不能出现在正文里";</script></head>
<body>
<div class="header"><img src="logo.png" alt="logo"><h1>贵阳市人民政府</h1></div>
<nav><ul><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li><li><a href="/bs">办事服务</a></li></ul></nav>
<div class="location">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 建议提案办理</div>
<div class="article">
 <div class="article-header"><h1>贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复</h1>
  <p class="info">发布时间：2022-08-10　来源：市发展改革委　【字体：<a>大</a> <a>中</a> <a>小</a>】</p></div>
 <table class="fields">
  <tr><td>代表提案者</td><td>凌毅</td></tr>
  <tr><td>建议提案编号</td><td>第616号</td></tr>
  <tr><td>主办单位</td><td>贵阳市人民政府</td></tr>
 </table>
 <div class="TRS_Editor">
  <p>凌毅代表:</p>
  <p>&nbsp;&nbsp;您提出的建议收悉。<br>现将办理情况答复如下:</p>
  <p>一、关于“区县配对联动”的建议</p>
  <p>　　一是构建“外环”城市经济圈。加快建设以贵阳贵安为核心的城市经济圈。二是探索产业合作新模式。</p>
  <p>衷心感谢并欢迎您继续关心和支持我市经济社会发展各个方面的工作。</p>
 </div>
 <div class="tools">【<a href="javascript:window.print()">打印本页</a>】【<a href="javascript:window.close()">关闭窗口</a>】</div>
 <div class="bdshare">分享到：<a>微信</a><a>微博</a></div>
</div>
<aside>相关阅读：其他答复</aside>
<div class="list"><a href="1">相关文章一</a> <a href="2">相关文章二</a> <a href="3">相关文章三</a></div>
<footer><p>主办单位：贵阳市人民政府办公厅</p><p>版权所有 黔ICP备05001234号</p></footer>
<script>document.write("统计代码")</script>
</body></html>
"""


def test_html_keeps_the_reply_and_drops_page_chrome(tmp_path):
    path = _write(tmp_path / "reply 616.html", GOV_PAGE.encode("gb18030"))  # declared gb2312
    [raw] = load_file(path)
    assert raw.doc_id == "reply-616"
    assert raw.title == "贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复"
    lines = raw.text.split("\n")
    assert lines[0] == raw.title
    assert "凌毅代表:" in lines
    assert "现将办理情况答复如下:" in lines  # <br> is a line break
    assert "一、关于“区县配对联动”的建议" in lines
    assert lines[-1] == "衷心感谢并欢迎您继续关心和支持我市经济社会发展各个方面的工作。"
    for chrome in ("脚本", "统计代码", "首页", "政务公开", "当前位置", "打印本页", "关闭窗口", "分享",
                   "微信", "相关", "版权所有", "ICP", "办公厅", "字体", ".content", "logo"):
        assert chrome not in raw.text, chrome
    assert all(line == line.strip(" \u00a0\u3000\t") for line in lines)  # indentation is dropped

    doc = parse_reply(raw)
    assert doc.fields == {"代表提案者": "凌毅", "建议提案编号": "第616号", "主办单位": "贵阳市人民政府"}
    assert doc.addressee is not None and doc.addressee.text == "凌毅代表:"
    assert [s.path for s in doc.sections[0].children] == [("一、", "一是"), ("一、", "二是")]
    assert doc.closing is not None


def test_html_without_charset_declaration_is_detected(tmp_path):
    page = GOV_PAGE.replace('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "")
    [raw] = load_file(_write(tmp_path / "nometa.htm", page.encode("gbk")))
    assert "一是构建“外环”城市经济圈。" in raw.text


# ---- DOCX and PDF ---------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    import docx

    document = docx.Document()
    document.core_properties.title = "第616号代表建议的答复"
    document.add_paragraph("贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "代表提案者", "凌毅"
    table.cell(1, 0).text, table.cell(1, 1).text = "建议提案编号", "616"
    for line in REPLY.splitlines()[1:]:
        document.add_paragraph(line)
    document.add_paragraph("")  # empty paragraphs are dropped
    path = tmp_path / "reply.docx"
    document.save(path)

    [raw] = load_file(path)
    assert raw.title == "第616号代表建议的答复"
    lines = raw.text.split("\n")
    assert lines[:3] == ["贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复",
                         "代表提案者\t凌毅", "建议提案编号\t616"]
    assert lines[3:] == REPLY.splitlines()[1:]
    doc = parse_reply(raw)
    assert doc.proposer == "凌毅" and doc.suggestion_no == "第616号"


def test_corrupt_docx_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="Word"):
        load_file(_write(tmp_path / "broken.docx", b"not a zip file at all"))


def _pdf_with_text(path: Path, text: str, cjk: bool) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if cjk:
        pdf.add_font("wqy", fname=str(CJK_FONT))
        pdf.set_font("wqy", size=12)
    else:
        pdf.set_font("helvetica", size=12)
    pdf.set_title("PDF reply")
    pdf.multi_cell(0, 8, text)
    pdf.output(str(path))


def test_pdf_with_a_text_layer(tmp_path):
    path = tmp_path / "reply.pdf"
    if CJK_FONT.exists():
        long_item = ("一是构建“外环”城市经济圈。加快建设以贵阳贵安为核心、以修文—乌当—贵定—龙里—惠水—长顺—"
                     "平坝—清镇—修文高速公路环线为支撑的城市经济圈，推动与黔南相邻的区(县)、乡(镇)和村深度融合。"
                     "二是探索产业合作新模式。")
        text = REPLY.replace(REPLY.splitlines()[4], long_item)
        _pdf_with_text(path, text, cjk=True)
        [raw] = load_file(path)
        # Lines the PDF wrapped at the page width are joined back into one paragraph.
        assert raw.text.split("\n") == text.strip().split("\n")
        doc = parse_reply(raw)
        assert [s.path for s in doc.sections[0].children] == [("一、", "一是"), ("一、", "二是")]
    else:  # no CJK font on this machine: the text layer is still exercised, in ASCII
        text = "Reply to suggestion No. 616\nDear deputy Ling Yi:\nThank you for your suggestion."
        _pdf_with_text(path, text, cjk=False)
        [raw] = load_file(path)
        assert raw.text == text
    assert raw.title == "PDF reply"


def test_pdf_without_text_layer_is_reported_as_scanned(tmp_path):
    from fpdf import FPDF
    from PIL import Image

    image = tmp_path / "page.png"
    Image.new("RGB", (400, 200), "white").save(image)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(image), x=10, y=10, w=150)
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(LoadError) as info:
        load_file(tmp_path / "scan.pdf")
    assert str(info.value) == "PDF 没有文字层（可能是扫描件）/ the PDF has no text layer (scanned?)"


def test_not_a_pdf(tmp_path):
    with pytest.raises(LoadError, match="PDF"):
        load_file(_write(tmp_path / "fake.pdf", b"%PDF-1.4 garbage without objects"))


# ---- JSONL ----------------------------------------------------------------------------------------


def _jsonl_lines() -> list[bytes]:
    records = [
        {"id": "r1", "text": "第一篇\r\n正文", "title": "标题一", "url": "https://example.gov.cn/1",
         "year": 2022, "score": 0.5, "public": True, "tags": ["a"], "extra": {"x": 1}},
        {"id": 2, "text": "第二篇"},
    ]
    lines = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in records]
    lines.insert(1, b'{"id": "bad", "text": ')  # broken JSON on line 2
    lines.append(b"")  # blank lines are skipped
    lines.append(json.dumps({"text": "没有 id"}, ensure_ascii=False).encode("utf-8"))
    lines.append(json.dumps({"id": "empty", "text": "  "}).encode("utf-8"))
    lines.append(b"[1, 2]")
    return lines


def test_jsonl_gz_streams_and_reports_bad_lines(tmp_path):
    path = tmp_path / "Export 2022.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"\n".join(_jsonl_lines()) + b"\n")
    items = list(iter_jsonl(path))
    good = [i for i in items if isinstance(i, RawText)]
    bad = [i for i in items if isinstance(i, LoadError)]
    assert [r.doc_id for r in good] == ["r1", "2", "export-2022-5"]
    first = good[0]
    assert first.text == "第一篇\n正文" and first.title == "标题一"
    assert first.source == f"{path}#1"
    assert first.metadata == {"url": "https://example.gov.cn/1", "year": 2022, "score": 0.5, "public": 1}
    assert good[1].source == f"{path}#3"
    assert [str(e).split("：")[0] for e in bad] == ["第 2 行 / line 2", "第 6 行 / line 6", "第 7 行 / line 7"]
    assert "JSON" in str(bad[0]) and "text" in str(bad[1]) and "object" in str(bad[2])

    # load_file is all-or-nothing for JSONL and names the first bad line.
    with pytest.raises(LoadError, match="line 2"):
        load_file(path)


def test_plain_jsonl_and_truncated_gzip(tmp_path):
    plain = tmp_path / "news.jsonl"
    plain.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "n1", "text": "新闻"}, ensure_ascii=False).encode())
    assert [r.doc_id for r in load_file(plain)] == ["n1"]

    payload = b"\n".join(json.dumps({"id": f"d{i}", "text": "正文" * 200}, ensure_ascii=False).encode()
                         for i in range(200))
    whole = gzip.compress(payload)
    truncated = _write(tmp_path / "cut.jsonl.gz", whole[: len(whole) // 2])
    items = list(iter_jsonl(truncated))
    assert isinstance(items[-1], LoadError) and "truncated" in str(items[-1])
    assert all(isinstance(i, RawText) for i in items[:-1]) and len(items) > 1


# ---- discovery and ids --------------------------------------------------------------------------------


def test_iter_files_walks_folders_sorted_and_skips_hidden(tmp_path):
    for rel in ("b.txt", "a.md", "sub/c.html", "sub/d.jsonl.gz", "sub/e.pdf", "sub/f.docx", "notes.csv",
                ".hidden.txt", ".git/config.txt", "sub/~$f.docx", "sub/g.htm"):
        path = tmp_path / "corpus" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    explicit = tmp_path / "corpus" / "notes.csv"
    found = [p.relative_to(tmp_path / "corpus").as_posix()
             for p in iter_files([tmp_path / "corpus", tmp_path / "corpus" / "b.txt", explicit])]
    assert found == ["a.md", "b.txt", "sub/c.html", "sub/d.jsonl.gz", "sub/e.pdf", "sub/f.docx", "sub/g.htm",
                     "notes.csv"]
    assert ".jsonl.gz" in SUPPORTED_SUFFIXES


def test_slugs_keep_chinese_and_are_stable():
    assert slugify("reply-616-guiyang") == "reply-616-guiyang"
    assert slugify("第616号 代表建议　答复") == "第616号-代表建议-答复"
    assert slugify("Reply (616)") == "reply-616"
    assert slugify("...") == "document"


def test_seed_loads_with_a_stable_id():
    [raw] = load_file(SEED)
    assert raw.doc_id == "reply-616-guiyang"
    assert raw.text.startswith("贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复\n")
    assert raw.title is None


def test_html_layout_classes_are_not_mistaken_for_chrome(tmp_path):
    page = ("<html><head><title>答复</title></head><body>"
            "<div class='position-relative research-box'><p>一、正文保留。</p><p>第二段。</p></div>"
            "<div class='search-box'>站内搜索</div><div id='mainMenu'><a>菜单</a></div></body></html>")
    [raw] = load_file(_write(tmp_path / "layout.html", page.encode("utf-8")))
    assert raw.text == "一、正文保留。\n第二段。"
    assert raw.title == "答复"


NEWS = Path("/work/shared/data/crud-news/news-20k.jsonl.gz")


@pytest.mark.skipif(not NEWS.exists(), reason="news export not available")
def test_news_export_streams():
    from itertools import islice

    items = list(islice(iter_jsonl(NEWS), 200))
    assert all(isinstance(i, RawText) for i in items)
    assert [i.doc_id for i in items[:2]] == ["news-00000", "news-00001"]
    assert items[1].source == f"{NEWS}#2" and items[1].metadata == {}
    doc = parse_reply(items[1])
    assert doc.intro is not None and doc.intro.text == items[1].text.strip()
