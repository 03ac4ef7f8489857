"""Answer: the one answering pipeline, extractive and LLM answers, citation checks and refusals."""
