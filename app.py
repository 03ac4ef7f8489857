"""Start the web app (chat page, HTTP API, widget) on the shipped corpus.

    python app.py            # same as: assistant serve --corpus corpus/

Settings come from ASSISTANT_* variables or assistant.toml (host, port, data directory …).
"""

from pathlib import Path

from assistant.settings import Settings, use_offline_environment


def main() -> None:
    use_offline_environment()
    from assistant.web.server import run

    run(Settings(), corpus=[Path(__file__).resolve().parent / "corpus"])


if __name__ == "__main__":
    main()
