import json
from pathlib import Path

from minichat import __version__, server

# Read once, at start-up: this is the code that is running, whatever is on disk later.
RELEASE_DIR = Path(__file__).resolve().parent.parent
COMMIT = (RELEASE_DIR / "REVISION").read_text().strip() if (RELEASE_DIR / "REVISION").exists() else "unknown"
GREETING = "Hello from minichat"


def respond(path):
    if path == "/version":
        return "application/json", json.dumps({"commit": COMMIT, "version": __version__}).encode()
    return "application/json", json.dumps({"message": GREETING}).encode()


def serve(port):
    server.serve(port, f"minichat API {__version__} ({COMMIT[:12]}) on 127.0.0.1:{port}", respond)
