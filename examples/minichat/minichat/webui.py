from minichat import server

PAGE = b"<html><body><h1>minichat</h1></body></html>"


def serve(port):
    server.serve(port, f"minichat web UI on 127.0.0.1:{port}", lambda _path: ("text/html", PAGE))
