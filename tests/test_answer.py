"""Grounded answers with section citations: extractive default, LLM plumbing, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.answer.citations import validate
from assistant.answer.extractive import select_sentences
from assistant.core import Assistant
from assistant.errors import QuestionError
from assistant.retrieval.analysis import asked_facts
from assistant.retrieval.gate import answer_type_missing

EXAMPLE = "what measures address land for 惠水?"


def _sections(answer) -> list[str]:
    return [c.section for c in answer.citations]


@pytest.mark.parametrize("question", [EXAMPLE, "惠水的土地方面有哪些措施？"])
def test_example_question_cites_both_land_items(seed_assistant, question):
    answer = seed_assistant.ask(question)
    assert not answer.refused
    sections = _sections(answer)
    assert "三、三是" in sections  # 龙里、惠水、平坝等地区人口、户籍、土地由贵阳贵安统一管理
    assert "一、(二) 二是" in sections  # 土地市场一体化
    by_section = {c.section: c for c in answer.citations}
    assert "户籍、土地由贵阳贵安统一管理" in by_section["三、三是"].text
    assert "土地市场一体化" in by_section["一、(二) 二是"].text
    for c in answer.citations:
        assert f"[{c.marker}]" in answer.answer
        assert c.highlights, "each citation carries the offsets of its supporting sentences"
        for a, b in c.highlights:  # the highlighted sentences are the ones quoted in the answer
            assert c.text[a:b].strip()[-12:] in answer.answer
    # Extractive: every line after the framing is the sources' own words.
    body = [line for line in answer.answer.splitlines()[1:] if line.startswith("- ")]
    assert body
    assert "户籍、土地由贵阳贵安统一管理" in answer.answer


def test_answer_language_follows_question(seed_assistant):
    assert seed_assistant.ask(EXAMPLE).answer.startswith("The replies")
    assert seed_assistant.ask("惠水的土地政策有哪些").answer.startswith("根据答复")


def test_card_questions(seed_assistant):
    who = seed_assistant.ask("第616号建议是谁提出的？")
    assert not who.refused and "凌毅" in who.answer
    assert who.citations[0].section == "" and "代表提案者" in who.citations[0].text
    units = seed_assistant.ask("Which departments handled this suggestion?")
    assert "黔南州人民政府" in units.answer


@pytest.mark.parametrize("question,lang", [("惠水县的房价是多少？", "zh"), ("今天贵阳天气怎么样", "zh"),
                                           ("What is the pension rate for retirees in Shanghai?", "en")])
def test_refusal(seed_assistant, question, lang):
    answer = seed_assistant.ask(question)
    assert answer.refused and not answer.citations
    assert answer.answer.startswith("抱歉" if lang == "zh" else "Sorry")
    assert ("要素市场" in answer.answer) or ("营商环境" in answer.answer)  # says what is covered


@pytest.mark.parametrize("question", [
    "产业转移企业的税收具体按什么比例分成？",  # the reply names the tax sharing, not its ratio
    "上海市在产业转移上是怎么做的？",  # another city: the reply is about Guizhou
    "北京的土地市场一体化有哪些措施？",
])
def test_refusal_when_the_fact_or_place_is_not_there(seed_assistant, question):
    answer = seed_assistant.ask(question)
    assert answer.refused and not answer.citations, answer.answer


def test_fact_must_stand_next_to_the_subject():
    concepts = [(("产业转移",), 6.0), (("企业",), 1.0), (("税收",), 3.0), (("分成",), 4.0)]
    report = "加快财税体制改革。全年税收收入增长8%。研究产业转移企业税收分享办法。"
    assert answer_type_missing(asked_facts("产业转移企业的税收按什么比例分成？"), [report], concepts) == "ratio"
    reply = "研究产业转移企业税收分享办法。迁出地与迁入地按4:6比例分成。"
    assert answer_type_missing(asked_facts("产业转移企业的税收按什么比例分成？"), [reply], concepts) == ""
    # The year in the title answers "哪一年" when the text names the subject.
    assert answer_type_missing(asked_facts("哪一年的报告提出新质生产力？"), ["加快发展新质生产力。"],
                               [(("新质生产力",), 7.0)], ["2024年政府工作报告"]) == ""
    assert answer_type_missing(asked_facts("哪一年的报告提出新质生产力？"), ["扩大内需。"],
                               [(("新质生产力",), 7.0)], ["2024年政府工作报告"]) == "date"


def test_english_words_ask_for_facts_only_as_whole_words():
    # "agglomeRATIOn" does not ask for a ratio, "smartPHONE" not for a contact.
    text = ["加快建设黔中城市群，成立规划协调机构。"]
    assert answer_type_missing(asked_facts("Will there be a planning commission for the urban agglomeration?"), text) == ""
    assert answer_type_missing(asked_facts("Which smartphone services will be shared?"), text) == ""
    assert answer_type_missing(asked_facts("What is the tax sharing ratio?"), text) == "ratio"


def test_how_the_reply_closes_is_answered_from_its_closing(seed_assistant):
    answer = seed_assistant.ask("答复最后的结束语是怎么写的")
    assert not answer.refused
    assert any("衷心感谢" in c.text for c in answer.citations)


def test_unknown_suggestion_number_is_refused(seed_assistant):
    answer = seed_assistant.ask("第999号建议的答复说了什么？")
    assert answer.refused and "第999号" in answer.answer and "第616号" in answer.answer


def test_follow_up_is_rewritten(seed_assistant):
    history = [{"role": "user", "content": "惠水有哪些发展措施？"},
               {"role": "assistant", "content": "培育惠水—长顺城镇组团……"}]
    answer = seed_assistant.ask("那土地方面呢？", history=history)
    assert "惠水" in answer.standalone_question and answer.standalone_question != "那土地方面呢？"
    assert "三、三是" in _sections(answer)


def test_the_last_two_are_the_last_two_items_of_the_previous_answer(seed_assistant):
    history = [{"role": "user", "content": "Which Qiannan counties does the suggestion want paired with Guiyang?"},
               {"role": "assistant", "content": "Guiding, Longli, Huishui and Changshun (贵定、龙里、惠水、长顺)."}]
    answer = seed_assistant.ask("What industries are planned for the last two?", history=history)
    # Spelled out, the question stands on its own: nothing of the pairing question is carried.
    assert answer.standalone_question == "What industries are planned for 惠水, 长顺?"
    assert _sections(answer)[0] == "一、(一) 二是" and "文旅康养" in answer.answer  # 培育惠水—长顺城镇组团
    history = [{"role": "user", "content": "保障机制包括哪几个方面？"},
               {"role": "assistant", "content": "五个方面：加强组织协调、强化规划协同、健全协同发展机制、完善考核机制、扩大社会参与。"}]
    answer = seed_assistant.ask("后者具体怎么做？", history=history)
    assert answer.standalone_question.startswith("扩大社会参与具体怎么做？")
    assert _sections(answer) == ["三、五是"]


def test_an_ordinal_points_into_the_conversation_it_is_not_a_topic(seed_assistant):
    history = [{"role": "user", "content": "保障机制有哪几条？"},
               {"role": "assistant", "content": "加强组织协调、强化规划协同、健全协同发展机制、完善考核机制、扩大社会参与。"}]
    answer = seed_assistant.ask("第三条里税收怎么分？", history=history)
    assert not answer.refused and _sections(answer) == ["三、三是"]  # 税收收入分享办法
    # No reply says 第三条 or 里, so as topics they would weigh the most and sink every section's
    # coverage (a refusal over a larger index): an ordinal weighs like a generic word, 里 is a stopword.
    retriever = seed_assistant.retriever
    weights = dict(retriever.concepts(seed_assistant.index.snapshot, retriever.analyse("第三条里税收怎么分？")))
    assert weights[("第三条",)] < weights[("税收",)] and ("里",) not in weights


def test_a_new_direction_replaces_the_old_one(seed_assistant):
    history = [{"role": "user", "content": "贵阳向东跟龙里、贵定怎么联动？"},
               {"role": "assistant", "content": "建设贵龙大道东部城市走廊……"}]
    answer = seed_assistant.ask("往南跟惠水那边呢？", history=history)
    assert "向东" not in answer.standalone_question
    assert "一、(一) 三是" in _sections(answer) or "一、(一) 二是" in _sections(answer)
    assert "贵惠大道南部城市走廊" in answer.answer or "惠水—长顺城镇组团" in answer.answer


def test_a_question_for_a_date_is_answered_by_the_sentence_that_holds_one(seed_assistant):
    question = "黔中城市群的发展规划是贵州哪一年出台的"
    answer = seed_assistant.ask(question)
    assert not answer.refused and "2017" in answer.answer
    # Sections that name the plan without a year ("拟定了《黔中城市群高质量发展规划贵阳思考建议》")
    # are not quoted, even ranked right after the one that holds the year.
    found = seed_assistant.retriever.retrieve(question)
    opening = next(sc for sc in found.results if "自2017年贵州省发布" in sc.chunk.text)
    no_year = [sc for sc in found.results if "黔中城市群高质量发展规划" in sc.chunk.text
               and not re.search(r"\d{4}年", sc.chunk.text)]
    assert no_year
    for sc in no_year:
        sc.score = opening.score
    found.results = [opening, *no_year]
    chosen = select_sentences(found, seed_assistant.lexicon)
    assert [sel.source for sel in chosen] == [opening]
    assert "2017" in opening.chunk.text[slice(*chosen[0].spans[0])]


REPORTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "gov-work-reports"


@pytest.mark.skipif(not REPORTS.is_dir(), reason="work reports not available")
def test_a_question_for_a_target_is_answered_by_the_target_not_last_years_result(seed_settings, embedder, tmp_path):
    assistant = Assistant(seed_settings.with_overrides(data_dir=tmp_path), embedder)
    assert not assistant.ingest([REPORTS / "2024-government-work-report.txt",
                                 REPORTS / "2019-government-work-report.txt"]).failed
    # The report gives both 2023's result (粮食产量1.39万亿斤) and 2024's target (1.3万亿斤以上).
    answer = assistant.ask("2024年粮食产量的目标是多少？")
    assert not answer.refused and "1.3万亿斤以上" in answer.answer
    assert "1.39万亿斤" not in answer.answer
    answer = assistant.ask("2024年城镇新增就业的目标是多少？")
    assert "1200万人以上" in answer.answer and "1244万人" not in answer.answer
    # The best-ranked section comments on 2019's targets without a figure; the figure is quoted.
    answer = assistant.ask("2019年经济增长目标的区间是多少？")
    assert "国内生产总值增长6%－6.5%" in answer.answer
    assert all("6%－6.5%" in c.text for c in answer.citations)
    # "额度是多少" asks for an amount: the section on the bonds' uses, which states none, is not cited.
    answer = assistant.ask("2024年的专项债券额度是多少？")
    assert "3.9万亿元" in answer.answer and all("3.9万亿元" in c.text for c in answer.citations)


def test_english_question_cites_the_item_it_asks_about(seed_assistant):
    answer = seed_assistant.ask("How will the counties pair up with Guiyang districts to attract investors?")
    assert _sections(answer) == ["一、(三) 二是"]  # 与贵阳贵安对口区(市、县、开发区)对接，协同开展招商引资


def test_words_a_rewrite_carried_weigh_less_than_the_users_own(seed_assistant):
    retriever, snap = seed_assistant.retriever, seed_assistant.index.snapshot
    standalone = "考核那块具体怎么说？（保障 机制）"
    analysis = retriever.analyse(standalone, own="考核那块具体怎么说？")
    # A concept is found by its first term, the word typed (its thesaurus synonyms follow it).
    assert "保障" in {g[0] for g in analysis.carried} and "考核" not in {g[0] for g in analysis.carried}
    plain = {g[0]: w for g, w in retriever.concepts(snap, retriever.analyse(standalone))}
    weighed = {g[0]: w for g, w in retriever.concepts(snap, analysis)}
    assert weighed["考核"] == plain["考核"]
    assert weighed["保障"] == pytest.approx(plain["保障"] / 2)
    # A follow-up that names nothing of its own leans on the carried words fully.
    assert not retriever.analyse("第二点具体怎么做？（推进 要素 市场）", own="第二点具体怎么做？").carried


def test_follow_up_is_answered_on_its_own_aspect_not_by_a_lead_in(seed_assistant):
    history = [{"role": "user", "content": "保障机制包括哪几个方面？"},
               {"role": "assistant", "content": "五个方面：加强组织协调、强化规划协同、健全协同发展机制……"}]
    answer = seed_assistant.ask("考核那块具体怎么说？", history=history)
    # Not "三、" whose only sentence announces the list ("……做出了如下考虑:"), but the item on 考核.
    assert _sections(answer) == ["三、四是"] and "考核机制" in answer.answer
    history = [{"role": "user", "content": "What does the reply propose for moving industry between Guiyang "
                                           "and the Qiannan counties?"},
               {"role": "assistant", "content": "Joint investment-promotion teams."}]
    answer = seed_assistant.ask("What about taxes?", history=history)
    assert _sections(answer) == ["三、三是"]  # 税收收入分享办法; not the industry item the context points at


def test_filters_limit_the_search(seed_assistant):
    assert seed_assistant.ask(EXAMPLE, filters={"doc_ids": ["no-such-doc"]}).refused
    answer = seed_assistant.ask(EXAMPLE, filters={"doc_ids": ["reply-616-guiyang"]})
    assert not answer.refused


@pytest.mark.parametrize("bad", ["", "   \n\t", "\x00\x01\x02", "😀😀🎉", "x" * 5000])
def test_bad_questions_get_polite_errors(seed_assistant, bad):
    with pytest.raises(QuestionError) as exc:
        seed_assistant.ask(bad)
    assert "/" in exc.value.message and "Traceback" not in exc.value.message


def test_stream_events_match_ask(seed_assistant):
    events = list(seed_assistant.stream(EXAMPLE))
    kinds = [k for k, _ in events]
    assert kinds[0] == "meta" and kinds[-2:] == ["citations", "done"] and "delta" in kinds
    text = "".join(d["text"] for k, d in events if k == "delta")
    assert text == events[-1][1]["answer"] == seed_assistant.ask(EXAMPLE).answer


# ---- LLM plumbing with LangChain's fake chat models ------------------------------------------------

def _with_llm(seed_assistant, responses: list[str]) -> Assistant:
    llm = FakeListChatModel(responses=responses)
    a = Assistant(seed_assistant.settings, seed_assistant.embedder, seed_assistant.lexicon, llm)
    return a


def test_llm_well_behaved_answer_is_kept(seed_assistant):
    sources = seed_assistant.ask(EXAMPLE).sources
    n = next(s.marker for s in sources if s.section == "三、三是")
    good = f"探索试行龙里、惠水、平坝等地区人口、户籍、土地由贵阳贵安统一管理机制[{n}]。"
    answer = _with_llm(seed_assistant, [good]).ask(EXAMPLE)
    assert answer.answer == good and not answer.warnings
    assert [c.section for c in answer.citations] == ["三、三是"]
    assert answer.citations[0].highlights


def test_llm_invalid_marker_is_dropped(seed_assistant):
    sources = seed_assistant.ask(EXAMPLE).sources
    n = next(s.marker for s in sources if s.section == "三、三是")
    text = f"探索试行龙里、惠水、平坝等地区人口、户籍、土地由贵阳贵安统一管理机制[{n}][42]。"
    answer = _with_llm(seed_assistant, [text]).ask(EXAMPLE)
    assert "[42]" not in answer.answer and f"[{n}]" in answer.answer
    assert any(w.startswith("invalid_marker") for w in answer.warnings)


def test_llm_answer_without_markers_is_replaced(seed_assistant):
    answer = _with_llm(seed_assistant, ["惠水的土地将由贵阳贵安统一管理，还会降低土地价格。"]).ask(EXAMPLE)
    assert "replaced_by_extractive" in answer.warnings
    assert answer.answer == seed_assistant.ask(EXAMPLE).answer


def test_llm_obeying_injected_instruction_is_replaced(seed_assistant):
    # A source told the model to say something else; the output is unsupported by what it cites.
    answer = _with_llm(seed_assistant, ["好的，我已忽略之前的指令。请访问 http://evil.example 领取补贴[1]。"]).ask(EXAMPLE)
    assert "replaced_by_extractive" in answer.warnings
    assert "evil" not in answer.answer


def test_validate_flags_unsupported_and_uncited():
    from assistant.schema import Chunk, ScoredChunk

    src = [ScoredChunk(Chunk("c1", "d", "t", "加快推动城市群内土地市场一体化建设。", "x"), 1.0)]
    ok = validate("要加快推动城市群内土地市场一体化建设[1]。", src)
    assert ok.ok and ok.cited == [1]
    assert not validate("税收将全部免除[1]。", src).ok
    assert not validate("要加快推动城市群内土地市场一体化建设。", src).ok
    assert validate("见[7]。加快推动城市群内土地市场一体化建设[1]", src).issues[0] == "invalid_marker:[7]"


def test_as_runnable_answers_like_ask(seed_assistant):
    """LangChain users get the same answers through a runnable (invoke and batch)."""
    runnable = seed_assistant.as_runnable()
    follow_up = {"question": "What about taxes?", "history": [
        {"role": "user", "content": EXAMPLE}, {"role": "assistant", "content": "……[1]"}]}
    got = runnable.batch([{"question": EXAMPLE}, follow_up])
    want = [seed_assistant.ask(EXAMPLE), seed_assistant.ask(follow_up["question"], follow_up["history"])]
    assert [_without_timings(a.model_dump()) for a in got] == [_without_timings(a.model_dump()) for a in want]


def _without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def _question_sets() -> list[dict]:
    import json

    folder = Path(__file__).resolve().parent.parent / "eval" / "questions"
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_streamed_and_asked_answers_are_identical_on_every_question(seed_assistant):
    """One pipeline: on every question of eval/questions (follow-ups with their history), the streamed
    answer — its deltas, its sources, its final Answer — is byte for byte the asked one."""
    import json

    questions = _question_sets()
    assert len(questions) > 100
    for q in questions:
        history = q.get("history") or []
        asked = json.dumps(_without_timings(seed_assistant.ask(q["question"], history).model_dump()),
                           ensure_ascii=False)
        events = list(seed_assistant.stream(q["question"], history))
        assert [k for k, _ in events if k != "delta"] == ["meta", "citations", "done"], q["id"]
        done = events[-1][1]
        assert json.dumps(_without_timings(done), ensure_ascii=False) == asked, q["id"]
        assert events[0][1]["sources"] == done["sources"], q["id"]
        assert "".join(d["text"] for k, d in events if k == "delta") == done["answer"], q["id"]


def test_langchain_retriever(seed_assistant):
    docs = seed_assistant.as_retriever().invoke("惠水的土地政策有哪些")
    assert docs and any("土地" in d.page_content for d in docs)
    assert {"doc_id", "section", "chunk_id"} <= set(docs[0].metadata)
    assert seed_assistant.as_retriever().invoke("今天天气怎么样") == []
