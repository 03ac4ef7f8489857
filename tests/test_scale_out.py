"""Scale-out as the README describes it: one Chroma server, one shared data directory, two app processes.

``corpus/`` is ingested once by ``assistant ingest`` with ``ASSISTANT_CHROMA_URL`` and
``ASSISTANT_DATA_DIR`` set (vectors on the Chroma server, the registry in the shared data
directory); then two ``assistant serve`` processes on two ports, with the same two settings,
answer the same questions — Chinese, English, and ones the replies cannot answer — with the
same answers, the same cited chunks and the same refusals. Everything this test starts is
stopped at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from servers import AppServer, app_env

ROOT = Path(__file__).resolve().parent.parent
TEST_CACHE = Path(os.environ.get("ASSISTANT_TEST_CACHE", "/tmp/assistant-test-cache"))

#: (question, answerable)
QUESTIONS = [
    ("惠水的土地政策有哪些？", True),
    ("What measures address land for Huishui?", True),
    ("这条代表建议是谁提出来的？", True),
    ("Which companies are named as the lead firms for cold-chain logistics?", True),
    ("贵阳市职工医保住院报销比例是多少？", False),
    ("What's the weather forecast for Guiyang this weekend?", False),
]

pytestmark = [pytest.mark.server, pytest.mark.timeout(900)]


def comparable(answer: dict) -> dict:
    """What must not depend on the process that answered (timings do)."""
    return {
        "answer": answer["answer"],
        "refused": answer["refused"],
        "language": answer["language"],
        "standalone_question": answer["standalone_question"],
        "citations": [(c["marker"], c["chunk_id"], c["doc_id"], c["section"]) for c in answer["citations"]],
        "sources": [c["chunk_id"] for c in answer["sources"]],
        "warnings": answer["warnings"],
    }


def test_two_app_processes_share_one_chroma_server_and_answer_alike(tmp_path, chroma_server, model_settings):
    from assistant.index.vectorstore import ChromaVectorStore
    from assistant.settings import Settings

    data_dir = tmp_path / "shared-data"
    env = app_env(data_dir=data_dir, chroma_url=chroma_server, models_path=model_settings.models_dir,
                  embedding_cache_path=TEST_CACHE / "embeddings.sqlite3")

    ingested = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", str(ROOT / "corpus"), "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    report = json.loads(ingested.stdout.strip().splitlines()[-1])
    assert report["documents"]["added"] >= 1 and not report["documents"]["failed"]
    chunks = report["chunks"]["total"]
    # The vectors are on the Chroma server, not in an embedded store inside the shared directory.
    assert not (data_dir / "chroma").exists()
    on_server = ChromaVectorStore(Settings(data_dir=data_dir, chroma_url=chroma_server)).count()
    assert on_server == chunks > 0

    servers = [AppServer(env, tmp_path / f"serve-{i}.log", cwd=tmp_path) for i in (1, 2)]
    try:
        for server in servers:  # both load their model at the same time
            server.launch()
        for server in servers:
            server.wait_ready(timeout=600)
        assert servers[0].port != servers[1].port
        answers: list[list[dict]] = []
        for server in servers:
            with httpx.Client(base_url=server.url, timeout=120, trust_env=False) as client:
                ready = client.get("/readyz").json()
                assert ready["chunks"] == chunks and ready["checks"]["chroma"] is True, ready
                got = []
                for question, _ in QUESTIONS:
                    response = client.post("/api/chat", json={"question": question})
                    assert response.status_code == 200, (server.url, question, response.text)
                    got.append(response.json())
                answers.append(got)
    finally:
        for server in servers:
            server.stop()

    for (question, answerable), first, second in zip(QUESTIONS, *answers, strict=True):
        assert comparable(first) == comparable(second), question
        # Not equal by being equally empty: the answerable ones are answered with citations,
        # the others refused.
        if answerable:
            assert not first["refused"] and first["citations"], (question, first["answer"])
        else:
            assert first["refused"] and not first["citations"], (question, first["answer"])
