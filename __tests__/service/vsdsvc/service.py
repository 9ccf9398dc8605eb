import argparse
import importlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def read_text(path, default):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return default


def record_timing(event, at=None):
    """Appends `event epoch_ms pid` to $VSDSVC_TIMINGS: the bench subtracts the service's own time."""
    path = os.environ.get("VSDSVC_TIMINGS")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{event} {(time.time() if at is None else at) * 1000:.1f} {os.getpid()}\n")


def process_start_time():
    """When this process was created (epoch seconds), interpreter start-up included: its age from
    /proc (start ticks against uptime, 10 ms steps), not btime, which is whole seconds."""
    with open("/proc/self/stat", encoding="utf-8") as handle:
        ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="utf-8") as handle:
        uptime = float(handle.read().split()[0])
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


def on_sigterm(options):
    """Install the SIGTERM behaviour the test asks for."""
    if options.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return

    def delayed_exit(_signum, _frame):
        # Keep serving (and holding the port) for exit_delay seconds, then go.
        record_timing("term")
        threading.Timer(options.exit_delay, lambda: (record_timing("exit"), os._exit(0))).start()

    signal.signal(signal.SIGTERM, delayed_exit)


def dependency_of_release():
    """`name version path` of the module named in the release's DEPENDENCY file (empty: none)."""
    name = read_text("DEPENDENCY", "")
    if not name:
        return ""
    module = importlib.import_module(name)
    return f"{name} {module.VERSION} {os.path.realpath(module.__file__)}"


def serve(options, commit, version, dependency=""):
    on_sigterm(options)
    started = time.time()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if options.crash_after and time.time() - started > options.crash_after:
                os._exit(3)
            status, content_type = 200, "application/json"
            stamp = read_text(options.stamp_from, "unknown") if options.stamp_from else commit
            if self.path == "/version":
                answer = {"commit": stamp, "version": version, "pid": os.getpid()}
                if dependency:
                    answer["dependency"] = dependency
                body = json.dumps(answer).encode()
            elif self.path == "/text":
                body, content_type = f"{stamp}\n".encode(), "text/plain"
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/version")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            elif self.path == "/fail":
                status, body = 500, b'{"error": "database unavailable"}'
            else:
                body = b"ok"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    time.sleep(options.listen_delay)
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    record_timing("listen")
    print(f"serving {commit} on {options.port} as pid {os.getpid()}", flush=True)
    server.serve_forever()


def start(options):
    # Read once at start-up, like a real service: a restart that does not happen keeps the old value.
    commit = read_text("REVISION", "unknown")
    version = read_text("VERSION", "1.0.0")
    # A release can carry its own faults, so a bad release and a good one differ in code, not flags.
    options.crash_after = float(read_text("CRASH_AFTER", str(options.crash_after)))
    options.stamp_from = read_text("STAMP_FROM", "") or os.environ.get("VSDSVC_STAMP_FROM") or options.stamp_from
    if options.daemon:
        if os.fork() > 0:
            # The parent returns at once; the daemon keeps the inherited stdout/stderr open.
            print("daemonized", flush=True)
            return
        # Like gunicorn --daemon: a session of its own, so it is in no group the action started.
        os.setsid()
    record_timing("started", process_start_time())
    with open(pidfile(options.port), "w", encoding="utf-8") as handle:
        handle.write(str(os.getpid()))
    on_sigterm(options)
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=serve, args=(options, commit, version, dependency_of_release()))
    worker.start()
    print(f"started worker {worker.pid}", flush=True)
    worker.join()
    sys.exit(worker.exitcode or 0)


def pidfile(port):
    # Per user: a file left by another user's service on a reused port must not block this one.
    return f"/tmp/vsdsvc-{os.getuid()}-{port}.pid"


def stop(options):
    """Only sends SIGTERM to the main process and returns, like many stop scripts."""
    try:
        os.kill(int(read_text(pidfile(options.port), "0")), signal.SIGTERM)
    except (ValueError, ProcessLookupError):
        pass


def main():
    parser = argparse.ArgumentParser(prog="vsdsvc")
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("VSDSVC_PORT", "8000")))
    parser.add_argument("--daemon", action="store_true")
    parser.add_argument("--exit-delay", type=float, default=0.0)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--crash-after", type=float, default=0.0)
    parser.add_argument("--stamp-from", help="report the commit read from this file at request time")
    parser.add_argument("--listen-delay", type=float, default=0.0, help="seconds before binding the port")
    parser.add_argument("--name", help="ignored: tells processes apart by command line")
    options = parser.parse_args()
    start(options) if options.command == "start" else stop(options)

