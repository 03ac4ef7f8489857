"""Administration: accounts and sign-in, uploaded documents, the conversation log, feedback and the
audit log, kept in one SQLite file under the data directory (``Settings.admin_db_path``).

The web routes are in :mod:`assistant.web.admin_api`; the CLI commands are ``assistant admin …``.
"""
