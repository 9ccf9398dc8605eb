"""The HTTP plumbing the API and the web UI share."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(port, banner, respond):
    """Answers GET on 127.0.0.1:port with respond(path) -> (content type, body bytes)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            content_type, body = respond(self.path)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    print(banner, flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
