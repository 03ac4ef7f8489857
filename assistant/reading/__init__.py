"""Reading: bytes → text → ReplyDocument (loaders, the reply parser, chunking into cited sections)."""
