"""Language: tokens, query expansion and the word lists they are built from (``resources/``)."""
