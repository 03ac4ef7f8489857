"""Evaluation of retrieval, citations and refusals on question sets (``assistant eval``).

``runner`` indexes a corpus in its own data directory and asks every question through the app's
``Assistant``; ``metrics`` scores the answers (pure functions); ``naive`` is the common LangChain
recipe run on the same documents for comparison; ``report`` shows the result as a terminal table,
``report.md`` and charts. Importing this package loads none of them.
"""
