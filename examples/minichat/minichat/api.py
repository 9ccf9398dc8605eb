import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from minichat import __version__

# Read once, at start-up: this is the code that is running, whatever is on disk later.
RELEASE_DIR = Path(__file__).resolve().parent.parent
COMMIT = (RELEASE_DIR / "REVISION").read_text().strip() if (RELEASE_DIR / "REVISION").exists() else "unknown"
GREETING = "Hello from minichat"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/version":
            body = json.dumps({"commit": COMMIT, "version": __version__}).encode()
        else:
            body = json.dumps({"message": GREETING}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def serve(port):
    print(f"minichat API {__version__} ({COMMIT[:12]}) on 127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
