# The port holder of hold-ports (README, "No refused connections"; hold.ts). Binds and listens on each
# ADDRESS:PORT in VSD_HOLDER_LISTEN (space-separated), in order, then hands the listening sockets
# to whoever connects to its control socket, `control` in its working directory (SCM_RIGHTS, in
# the same order), until SIGTERM. Connections that arrive while no service accepts wait in the
# kernel's queue. Nothing is in its command line, which a user's pkill -f could match: its
# program and its ports come in its environment. Standard library only, Python 3.3 or later.
import array
import os
import signal
import socket
import sys


def listener(spec):
    address, _, port = spec.rpartition(":")
    address = address.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, int(port)))
    sock.listen(socket.SOMAXCONN)
    return sock


def main():
    specs = os.environ.pop("VSD_HOLDER_LISTEN").split()
    try:
        listeners = [listener(spec) for spec in specs]
    except OSError as error:
        print("hold-ports: cannot listen on %s: %s" % (" ".join(specs), error), flush=True)
        sys.exit(1)
    # Bound under another name and renamed once it listens: whoever finds `control` can connect.
    for name in ("control", "control.new"):
        if os.path.exists(name):
            os.unlink(name)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    control.bind("control.new")
    os.umask(old_mask)
    control.listen(16)
    os.rename("control.new", "control")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fds = array.array("i", [sock.fileno() for sock in listeners])
    print("holding %s (pid %d)" % (" ".join(specs), os.getpid()), flush=True)
    while True:
        conn, _ = control.accept()
        try:
            conn.sendmsg([str(len(fds)).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        except OSError:
            pass
        finally:
            conn.close()


main()
