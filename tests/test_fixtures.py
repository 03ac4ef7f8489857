"""The files under tests/fixtures are what the tests built on them assume: the probe replies parse
as replies with their own numbers, and carry the markup the XSS constants name. No model."""

from __future__ import annotations

import pytest
from helpers import PROBE_REPLIES, XSS_IMG, XSS_SCRIPT

from assistant.reading.loaders import load_file
from assistant.reading.parser import parse_reply


@pytest.mark.parametrize("name,number,markup", [
    ("reply-9999-xss-probe.txt", "第9999号", [XSS_IMG, XSS_SCRIPT]),
    ("reply-999-xss-test.txt", "第999号", [XSS_IMG, "<script>alert(2)</script>", "<b>测试</b>"]),
])
def test_probe_replies_parse_and_carry_their_markup(name, number, markup):
    [raw] = load_file(PROBE_REPLIES / name)
    doc = parse_reply(raw)
    assert doc.suggestion_no == number and len(doc.sections) == 2 and doc.closing is not None
    assert all(m in doc.text for m in markup)

