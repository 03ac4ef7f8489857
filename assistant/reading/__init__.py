"""Reading: bytes → text → ReplyDocument → cited chunks.

loaders (dispatch by format to encoding, html, word, pdf; RawText and LoadError in raw), parser
(header, sections), numbers (the one suggestion-number normaliser), chunking.
"""
