"""A small HTTP service the tests deploy: it behaves like the services the action must restart.

`python -m vsdsvc start` runs in the foreground; the HTTP server runs in a multiprocessing child
(spawned, so its command line does not name the app) that holds the port, like Langchain-Chatchat's
API server. Options make it slow to exit, deaf to SIGTERM, daemonize, or crash; files in the
release (VERSION, CRASH_AFTER, STAMP_FROM) set its version and make a bad release misbehave.
"""
