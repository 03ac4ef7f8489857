"""Start the web app (chat page, HTTP API, widget) on the shipped corpus.

    python app.py            # same as: assistant serve --corpus corpus/

Settings come from ASSISTANT_* variables or assistant.toml (host, port, workers, data directory …).
"""

import sys
from pathlib import Path

from assistant.settings import Settings, use_offline_environment


def main() -> None:
    use_offline_environment()
    from assistant.web.server import ServeError, run

    try:
        run(Settings(), corpus=[Path(__file__).resolve().parent / "corpus"])
    except ServeError as exc:
        sys.exit(f"{exc}")


if __name__ == "__main__":
    main()
