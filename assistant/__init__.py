"""gov-reply-assistant: answers questions from Chinese government reply documents with section citations.

The library is organised by the stage of the flow (see ARCHITECTURE.md): ``loaders`` → ``parser`` →
``chunking`` → ``ingest`` (``registry``, ``vectorstore``, ``keyword_index``) → ``retrieval`` →
``chain`` (``extractive``, ``llm``, ``citations``) → ``core.Assistant``, used by ``cli`` and ``web``.
Importing the package does nothing heavy.
"""

__version__ = "0.1.0"
