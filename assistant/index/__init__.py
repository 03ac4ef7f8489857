"""Index: the registry (source of truth), keyword index, vector store, snapshots and crash-safe ingest."""
