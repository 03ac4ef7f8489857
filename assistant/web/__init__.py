"""The web surfaces: the Gradio chat page, the HTTP API and the embeddable widget, in one FastAPI app."""
