"""`python -m minichat.cli start -a`: the API and the web UI, each in its own process, like
`chatchat start -a`. The children are spawned, so their command lines do not name the app."""
import argparse
import multiprocessing
import os


def run_api(port):
    from minichat import api

    api.serve(port)


def run_webui(port):
    from minichat import webui

    webui.serve(port)


def start(all_servers):
    api_port = int(os.environ.get("MINICHAT_API_PORT", "7861"))
    webui_port = int(os.environ.get("MINICHAT_WEBUI_PORT", "8501"))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=run_api, args=(api_port,))]
    if all_servers:
        workers.append(context.Process(target=run_webui, args=(webui_port,)))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def main():
    parser = argparse.ArgumentParser(prog="minichat")
    parser.add_argument("command", choices=["start"])
    parser.add_argument("-a", "--all", action="store_true", help="API and web UI")
    options = parser.parse_args()
    start(options.all)


if __name__ == "__main__":
    main()
