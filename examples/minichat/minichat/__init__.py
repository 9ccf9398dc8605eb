"""A minimal service in the shape of a Langchain-Chatchat deployment: `python -m minichat.cli start -a`
runs an API server and a web UI in multiprocessing children, and the API reports the commit it was
started from at /version."""

__version__ = "1.0.0"
