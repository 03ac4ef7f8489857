"""gov-reply-assistant: answers questions from Chinese government reply documents with section citations.

    from assistant import Assistant
    assistant = Assistant.from_settings()
    answer = assistant.ask("惠水的土地政策有哪些？")

The library is organised by the stage of the flow: ``reading`` (files → ReplyDocument → chunks) →
``index`` (registry, vectors, keywords, ingest; with ``embedding`` and ``language``) → ``retrieval``
(rewrite, hybrid ranking, gate) → ``answer`` (the pipeline, extractive/LLM answers, citations) →
``core.Assistant``, which ``cli``, ``web`` and ``evaluation`` call. Importing the package does nothing
heavy: ``Assistant`` and ``Settings`` are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Assistant", "Settings"]

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.settings import Settings

_LAZY = {"Assistant": "assistant.core", "Settings": "assistant.settings"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
