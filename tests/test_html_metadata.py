"""A government page's metadata table and the reply's header survive HTML extraction, in page order
(a later issue parses them; the reason html.py is hand-written rather than trafilatura)."""

from __future__ import annotations

from assistant.reading.loaders import load_file
from assistant.reading.parser import parse_reply

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>关于市十五届人大三次会议第9100号代表建议的答复_建议提案_贵阳市水务管理局</title></head>
<body><div class="top"><a href="/">首页</a></div>
<div class="crumb">当前位置：首页 &gt; 政务公开 &gt; 建议提案</div>
<div class="main">
<table class="xxgk-meta">
<tr><td>索引号：</td><td>SAMPLE/2023-00123</td><td>发布机构：</td><td>贵阳市水务管理局</td></tr>
<tr><td>发布日期：</td><td>2023-07-20</td><td>文号：</td><td>筑水复〔2023〕12号</td></tr></table>
<h1>关于市十五届人大三次会议第9100号代表建议的答复</h1>
<div class="content">
<p>建议提案编号：第9100号</p><p>代表提案者：王五</p><p>主办单位：贵阳市水务管理局</p>
<p>王五代表：</p><p>您提出的《关于加强城市供水保障的建议》收悉。现将办理情况答复如下：</p>
<p>一、关于水源建设</p><p>一是加快推进水库建设。二是完善供水管网。</p>
<p>衷心感谢您对水务工作的关心和支持。</p>
</div></div>
<div class="footer">版权所有 贵阳市水务管理局 黔ICP备123号</div></body></html>"""


def test_metadata_table_and_header_are_kept_in_page_order(tmp_path):
    path = tmp_path / "reply-9100.html"
    path.write_text(PAGE, encoding="utf-8")
    [raw] = load_file(path)
    lines = raw.text.split("\n")
    assert lines[:4] == [
        "索引号：\tSAMPLE/2023-00123\t发布机构：\t贵阳市水务管理局",
        "发布日期：\t2023-07-20\t文号：\t筑水复〔2023〕12号",
        "关于市十五届人大三次会议第9100号代表建议的答复",
        "建议提案编号：第9100号",
    ]
    assert "当前位置" not in raw.text and "版权所有" not in raw.text and "首页" not in raw.text
    assert raw.title == "关于市十五届人大三次会议第9100号代表建议的答复"
    doc = parse_reply(raw)  # the fields behind the metadata table are for that later issue
    assert doc.suggestion_no == "第9100号"
    assert [s.path for s in doc.sections[0].children] == [("一、", "一是"), ("一、", "二是")]
