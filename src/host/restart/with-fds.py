# Runs the start-command with the held sockets (hold-ports; hold.ts): asks the port holder's
# control socket for them, puts them at file descriptors 3, 4, ... in the order of ports, sets
# LISTEN_FDS and LISTEN_PID as systemd's socket activation does, and replaces itself (same PID) by
# the command in argv. Standard library only, Python 3.3 or later.
#
# The control socket's absolute path comes in VSD_HOLDER_CONTROL, the command in argv.
import array
import fcntl
import os
import socket
import sys

FIRST = 3


def receive(path):
    directory, name = os.path.split(path)
    here = os.getcwd()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # From its directory: a socket path may have at most 108 bytes, a target path more.
    os.chdir(directory)
    try:
        conn.connect(name)
    finally:
        os.chdir(here)
    fds = array.array("i")
    _, ancillary, _, _ = conn.recvmsg(16, socket.CMSG_LEN(256 * fds.itemsize))
    conn.close()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return list(fds)


def main():
    control, command = os.environ.pop("VSD_HOLDER_CONTROL"), sys.argv[1:]
    try:
        received = receive(control)
    except OSError as error:
        sys.stderr.write("hold-ports: the port holder did not answer on %s: %s\n" % (control, error))
        sys.exit(1)
    # Moved above the range first, so placing one never closes another still to be placed.
    top = FIRST + len(received)
    moved = []
    for fd in received:
        moved.append(fcntl.fcntl(fd, fcntl.F_DUPFD, top))
        os.close(fd)
    for index, fd in enumerate(moved):
        os.dup2(fd, FIRST + index)
        os.close(fd)
    os.environ["LISTEN_FDS"] = str(len(moved))
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.execvp(command[0], command)


main()
