"""What several test modules share: the web tests' corpus (``corpus/`` plus the probe replies in
``tests/fixtures/replies``), a real Assistant over it, the app served over real HTTP, an SSE parser.

Processes (uvicorn in a thread, ``chroma run``, ``assistant serve``, Chromium) are in ``servers.py``;
pytest fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from servers import ThreadedServer, free_port

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

#: The question every surface is tried with: answered from the shipped reply (第616号).
HUISHUI = "惠水的土地政策有哪些？"

# Replies whose text carries markup that must stay text wherever it is shown (tests/fixtures/replies/):
# 第9999号 holds XSS_IMG and XSS_SCRIPT in its text; 第999号 has markup in its title, proposer and text.
PROBE_REPLIES = FIXTURES / "replies"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"
API_XSS_QUESTION = "政务网站跨站脚本演练使用的样例文本是什么？"  # answered from 第9999号
PAGE_XSS_QUESTION = "白云区垃圾分类投放点怎么建设？"  # answered from 第999号


def write_corpus(folder: Path) -> Path:
    """``corpus/`` plus the probe replies, copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (CORPUS, PROBE_REPLIES):
        for path in source.iterdir():
            if path.is_file():
                shutil.copy(path, folder / path.name)
    return folder


def build_assistant(tmp_path_factory, model_settings, embedder=None, ingest: bool = True):
    """A real Assistant (extractive answers) in a fresh data dir, over :func:`write_corpus` unless
    ``ingest`` is false. Without ``embedder`` it loads its own, as ``Assistant.from_settings`` does for
    users.

    The embedding cache is the one the session's other indexes use, so unchanged chunks are not
    embedded again.
    """
    from assistant.core import Assistant

    work = tmp_path_factory.mktemp("web")
    settings = model_settings.with_overrides(
        data_dir=work / "data", embedding_cache_path=model_settings.models_dir.parent / "embeddings.sqlite3")
    assistant = Assistant.from_settings(settings) if embedder is None else Assistant(settings, embedder)
    if ingest:
        report = assistant.ingest([write_corpus(work / "corpus")])
        assert not report.failed, report.failed
    return assistant


class LiveServer(ThreadedServer):
    """The app users get (``create_app(settings, assistant)``: API, widget, security, page), served by
    uvicorn in a thread on 127.0.0.1; ``overrides`` change its Settings (rate limit, allowlist …)."""

    def __init__(self, assistant, port: int | None = None, **overrides):
        from assistant.web.app import create_app

        port = port or free_port()
        self.settings = assistant.settings.with_overrides(port=port, **overrides)
        self.app = create_app(self.settings, assistant)
        super().__init__(self.app, port)


class PageServer(ThreadedServer):
    """A FastAPI app served by uvicorn in a thread on 127.0.0.1 and a free port; ``url`` ends in "/"."""

    def __init__(self, app):
        super().__init__(app)
        self.url += "/"


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """``event:``/``data:`` blocks → ``[(event, data)]``; comment lines (heartbeats) skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events
