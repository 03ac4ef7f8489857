"""LLM back ends (optional): an OpenAI-compatible chat endpoint, or a local GGUF model.

The OpenAI-compatible client covers vLLM, Ollama, llama.cpp's server, DeepSeek and Qwen. Prompts are
files in ``prompts/`` (``answer_zh.txt``, ``answer_en.txt``, ``rewrite_zh.txt``, ``rewrite_en.txt``),
loaded by name and language.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.schema import ScoredChunk
from assistant.settings import Settings

if TYPE_CHECKING:  # LangChain is imported only with an LLM: a serving process answers without it
    from langchain_core.language_models import BaseChatModel

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


class LLMUnavailable(RuntimeError):
    """The configured LLM cannot be used (missing extra, unreachable endpoint)."""


@lru_cache(maxsize=16)
def load_prompt(name: str, language: str) -> str:
    path = PROMPTS_DIR / f"{name}_{language}.txt"
    if not path.exists():
        raise FileNotFoundError(f"prompt file missing: {path}")
    return path.read_text(encoding="utf-8")


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model the settings describe, or None for extractive answers."""
    if settings.llm_base_url:
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise LLMUnavailable(
                "已配置 LLM 地址，但未安装 langchain-openai：请运行 pip install 'gov-reply-assistant[llm]' / "
                "an LLM endpoint is configured but langchain-openai is missing: pip install "
                "'gov-reply-assistant[llm]'"
            ) from exc
        return ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key or "not-needed",
            temperature=settings.llm_temperature,
            timeout=settings.llm_timeout_s,
            max_retries=1,
        )
    if settings.llm_gguf_path:
        try:
            from langchain_community.chat_models import ChatLlamaCpp
        except ImportError as exc:
            raise LLMUnavailable(
                "本地 GGUF 模型需要 llama-cpp-python 和 langchain-community / a local GGUF model needs "
                "llama-cpp-python and langchain-community installed"
            ) from exc
        if not Path(settings.llm_gguf_path).exists():
            raise LLMUnavailable(f"找不到模型文件 / model file not found: {settings.llm_gguf_path}")
        return ChatLlamaCpp(model_path=str(settings.llm_gguf_path), temperature=settings.llm_temperature,
                            n_ctx=4096, n_threads=settings.threads, verbose=False)
    return None


def format_sources(sources: list[ScoredChunk]) -> str:
    """Numbered sources for the prompt; each carries its reply title and section path."""
    blocks = []
    for i, sc in enumerate(sources, start=1):
        c = sc.chunk
        where = " ".join(x for x in (c.suggestion_no, c.section) if x)
        blocks.append(f"[{i}] 《{c.doc_title}》 {where}\n{c.text}")
    return "\n\n".join(blocks)


def answer_prompt(question: str, sources: list[ScoredChunk], language: str) -> str:
    return load_prompt("answer", language).format(sources=format_sources(sources), question=question)


def rewrite_prompt(question: str, history: list[dict], language: str) -> str:
    lines = [f"{'用户' if language == 'zh' else 'User'}: {t['content']}" if t.get("role") == "user"
             else f"{'助手' if language == 'zh' else 'Assistant'}: {t['content']}" for t in history[-6:]]
    return load_prompt("rewrite", language).format(history="\n".join(lines), question=question)
