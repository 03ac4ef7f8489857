"""The follow-up rewrite without an LLM (``assistant/retrieval/rewrite.py``), one rule per test.

No model, no index: the real Lexicon (dictionaries and places) is all the rewrite uses.
"""

from __future__ import annotations

import pytest

from assistant.retrieval.rewrite import MAX_CARRIED_TERMS, resolve_references, rewrite_deterministic

COUNTIES = "Guiding, Longli, Huishui and Changshun (贵定、龙里、惠水、长顺)."
FIVE_PARTS = "五个方面：加强组织协调、强化规划协同、健全协同发展机制、完善考核机制、扩大社会参与。"


def turns(*pairs: str) -> list[dict]:
    """A history from alternating user and assistant texts."""
    return [{"role": ("user", "assistant")[i % 2], "content": text} for i, text in enumerate(pairs)]


def carried(rewritten: str, question: str) -> list[str]:
    """What the rewrite appended to ``question``: the words in （…） or after "(context: "."""
    assert rewritten.startswith(question.strip()), rewritten
    rest = rewritten[len(question.strip()):].strip()
    if rest.startswith("（"):
        return rest.strip("（）").split()
    return rest.removeprefix("(context: ").removesuffix(")").split(", ") if rest else []


# ---- resolve_references: "the last two", "后两个", "前者" ---------------------------------------


def test_no_reference_leaves_the_question_as_it_is(lexicon):
    assert resolve_references("那土地方面呢？", turns("x", COUNTIES), lexicon) == "那土地方面呢？"


def test_the_last_two_are_the_last_two_places_the_answer_names(lexicon):
    question = "What industries are planned for the last two?"
    assert resolve_references(question, turns("x", COUNTIES), lexicon) == "What industries are planned for 惠水, 长顺?"


def test_a_chinese_question_joins_the_items_with_a_chinese_comma(lexicon):
    assert resolve_references("后两个地方呢？", turns("x", "贵定、龙里、惠水、长顺。"), lexicon) == "惠水、长顺地方呢？"


@pytest.mark.parametrize("question,expected", [("the former?", "贵定?"), ("the latter?", "长顺?"),
                                               ("前者呢？", "贵定呢？"), ("后者呢？", "长顺呢？")])
def test_former_and_latter_are_the_first_and_last_item(lexicon, question, expected):
    assert resolve_references(question, turns("x", COUNTIES), lexicon) == expected


def test_without_places_the_items_are_the_listed_parts_after_the_lead_in(lexicon):
    history = turns("保障机制包括哪几个方面？", FIVE_PARTS)
    assert resolve_references("后者具体怎么做？", history, lexicon) == "扩大社会参与具体怎么做？"
    assert resolve_references("前两个具体怎么做？", history, lexicon) == "加强组织协调、强化规划协同具体怎么做？"


def test_asking_for_more_items_than_the_answer_has_takes_them_all(lexicon):
    assert resolve_references("What about the first three?", turns("x", "Guiding and Longli"), lexicon) == \
        "What about 贵定, 龙里?"


def test_an_answer_with_fewer_than_two_items_resolves_nothing(lexicon):
    assert resolve_references("后者呢？", turns("x", "只有一项"), lexicon) == "后者呢？"
    assert resolve_references("后者呢？", turns("x"), lexicon) == "后者呢？"  # no answer at all


def test_the_reference_points_into_the_most_recent_answer(lexicon):
    history = turns("x", "Guiding and Longli", "y", "Huishui and Changshun")
    assert resolve_references("the former?", history, lexicon) == "惠水?"


# ---- rewrite_deterministic: what a follow-up inherits -----------------------------------------


@pytest.mark.parametrize("history", [[], turns("", "惠水"), [{"role": "assistant", "content": "惠水"}]])
def test_without_an_earlier_user_question_nothing_is_carried(lexicon, history):
    assert rewrite_deterministic("那长顺呢？", history, lexicon) == "那长顺呢？"


def test_a_question_that_stands_on_its_own_is_unchanged(lexicon):
    history = turns("贵阳的交通怎么规划？", "x")
    assert rewrite_deterministic("惠水的土地政策有哪些？", history, lexicon) == "惠水的土地政策有哪些？"


def test_an_elliptical_question_inherits_the_place_and_topic_but_not_generic_words(lexicon):
    question = "那土地方面呢？"
    rewritten = rewrite_deterministic(question, turns("惠水有哪些发展措施？", "培育惠水—长顺城镇组团……"), lexicon)
    assert rewritten == "那土地方面呢？（惠水 发展）"  # 措施 frames the question: not a topic
    assert carried(rewritten, question) == ["惠水", "发展"]


def test_a_place_of_its_own_replaces_the_earlier_place(lexicon):
    rewritten = rewrite_deterministic("那长顺呢？", turns("惠水的土地政策有哪些？", "x"), lexicon)
    assert carried(rewritten, "那长顺呢？") == ["土地"]  # 政策 frames the question, it is no topic


def test_only_the_users_words_are_carried_not_the_answers(lexicon):
    rewritten = rewrite_deterministic("那土地方面呢？", turns("惠水有哪些发展措施？", "培育长顺城镇组团"), lexicon)
    assert "长顺" not in rewritten and "组团" not in rewritten


def test_a_suggestion_number_is_carried(lexicon):
    rewritten = rewrite_deterministic("是谁提出的？", turns("第616号建议说了什么？", "x"), lexicon)
    assert carried(rewritten, "是谁提出的？")[0] == "第616号"


def test_a_new_direction_replaces_the_old_one(lexicon):
    history = turns("贵阳向东跟龙里、贵定怎么联动？", "建设贵龙大道东部城市走廊……")
    rewritten = rewrite_deterministic("往南跟惠水那边呢？", history, lexicon)
    # 惠水 is its own place, so neither 贵阳, 龙里 nor 贵定 is carried; 向东 gives way to 往南.
    assert carried(rewritten, "往南跟惠水那边呢？") == ["联动"]


def test_the_topic_words_carried_are_capped_and_halved_when_the_follow_up_names_an_aspect(lexicon):
    earlier = "惠水 龙里 土地 户籍 人口 税收 产业 招商 交通 规划 考核"
    plain = carried(rewrite_deterministic("那这个呢？", turns(earlier, "x"), lexicon), "那这个呢？")
    assert plain[:2] == ["惠水", "龙里"]  # places are not counted against the cap
    assert plain[2:] == ["土地", "户籍", "人口", "税收", "产业", "招商"][:MAX_CARRIED_TERMS]
    own_aspect = carried(rewrite_deterministic("那教育呢？", turns(earlier, "x"), lexicon), "那教育呢？")
    assert own_aspect[2:] == ["土地", "户籍", "人口"][:MAX_CARRIED_TERMS // 2]


def test_an_english_follow_up_gets_its_context_in_english_form(lexicon):
    question = "What about taxes?"
    history = turns("What does the reply propose for moving industry between Guiyang and the Qiannan counties?",
                    "Joint investment-promotion teams.")
    rewritten = rewrite_deterministic(question, history, lexicon)
    assert rewritten.startswith("What about taxes? (context: ")
    words = carried(rewritten, question)
    assert {"贵阳", "黔南", "industry"} <= set(words)
    assert not {"reply", "propose", "moving"} & set(words)  # the reply itself, and unknown words, are no topic


def test_a_resolved_reference_stands_alone_and_carries_nothing(lexicon):
    history = turns("Which Qiannan counties does the suggestion want paired with Guiyang?", COUNTIES)
    assert rewrite_deterministic("What industries are planned for the last two?", history, lexicon) == \
        "What industries are planned for 惠水, 长顺?"
