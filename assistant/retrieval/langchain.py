"""The hybrid retriever as a LangChain ``BaseRetriever``, for reuse in other LangChain code.

It takes ``k`` as LangChain retrievers do (a field, or ``invoke(query, k=3)``) and passes
langchain-tests' ``RetrieversIntegrationTests`` (tests/test_langchain_retriever.py).
"""

from __future__ import annotations

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from assistant.retrieval.hybrid import HybridRetriever
from assistant.schema import ScoredChunk


class LangChainRetriever(BaseRetriever):
    """Documents for a query, best first; none when the relevance gate refuses the query.

    Each Document's ``id`` is the chunk id; its metadata is the chunk's (``doc_id``, ``doc_title``,
    ``section``, ``suggestion_no`` …) plus ``chunk_id`` and the scores (``score``, ``dense_score``,
    ``lexical_score``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    hybrid: HybridRetriever
    filters: dict | None = None
    k: int | None = Field(None, ge=1, description="how many documents to return; None: Settings.top_k")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        # A keyword besides run_manager makes BaseRetriever.invoke pass its kwargs (k=…) through.
        found = self.hybrid.retrieve(query, self.filters, k=k or self.k)
        return [_document(sc) for sc in found.results] if found.relevant else []

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        # BaseRetriever's default drops the kwargs (k) on the way to the sync method.
        return await run_in_executor(None, self._get_relevant_documents, query,
                                     run_manager=run_manager.get_sync(), k=k)


def _document(sc: ScoredChunk) -> Document:
    return Document(
        id=sc.chunk.chunk_id,
        page_content=sc.chunk.text,
        metadata={**sc.chunk.metadata(), "chunk_id": sc.chunk.chunk_id, "score": sc.score,
                  "dense_score": sc.dense_score, "lexical_score": sc.lexical_score},
    )
