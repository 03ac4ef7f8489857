"""Retrieval: follow-up rewriting, hybrid (keyword + vector) ranking and the relevance gate."""
