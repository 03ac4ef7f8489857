"""Header questions on replies of any shape (#18 item 4): who proposed it, who handled it, when it was signed,
its 文号 and 办理结果, whom to call — answered from the reply's card with a citation, or refused politely
when the reply does not say. Real model, real index over the shipped corpus and the 20 replies-dev documents."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("question, says", [
    ("杭州第163号建议的答复，发文字号是多少，谁签发的？", ["杭房保复〔2024〕22号", "沈立新"]),
    ("关于湖州儿科夜间门诊那份第56号提案的答复，有问题该联系谁，电话多少？", ["钱晓峰", "0572-2399178"]),
    ("温州校园食堂那件第264号提案，办理结果算哪一类？", ["A类"]),
    ("六盘水第37号提案是哪个单位主办的？", ["六盘水市民政局"]),
    ("Who signed the Guiyang reply to suggestion No. 119?", ["黄立成"]),
])
def test_header_questions_are_answered_from_the_card(dev_assistant, question, says):
    answer = dev_assistant.ask(question)
    assert not answer.refused, answer.answer
    cited = "\n".join(c.text for c in answer.citations)
    assert all(fact in cited for fact in says), (answer.answer, [c.section for c in answer.citations])
    assert all(fact in answer.answer for fact in says), answer.answer


@pytest.mark.parametrize("question", [
    "雷山县第58号建议的答复留了联系电话吗？电话多少？",  # the reply gives no contact
    "六盘水第37号提案答复的联系电话是多少？",
])
def test_header_facts_a_reply_does_not_state_are_refused(dev_assistant, question):
    answer = dev_assistant.ask(question)
    assert answer.refused and not answer.citations, answer.answer
