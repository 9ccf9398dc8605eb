# The new service's first answer, seen from the host (restart.ts): from the start on, asks
# version-url every 10 ms and writes the host's uptime at the first 2xx answer to VSD_ANSWER_FILE,
# where the downtime clients see ends (it began when the old service was gone). A redirect is not
# an answer. Gives up after VSD_ANSWER_SECONDS. Standard library only; it writes nothing else.
import os
import time
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def main():
    url = os.environ["VSD_ANSWER_URL"]
    out = os.environ["VSD_ANSWER_FILE"]
    end = time.monotonic() + float(os.environ["VSD_ANSWER_SECONDS"])
    opener = urllib.request.build_opener(NoRedirect)
    while time.monotonic() < end:
        try:
            with opener.open(url, timeout=5) as answer:
                if 200 <= answer.status < 300:
                    with open("/proc/uptime", encoding="ascii") as uptime:
                        seen = uptime.read().split()[0]
                    with open(out + ".tmp", "w", encoding="ascii") as file:
                        file.write(seen + "\n")
                    os.replace(out + ".tmp", out)
                    return
        except Exception:  # refused, reset, a timeout, an error status: not an answer yet
            pass
        time.sleep(0.01)


main()
