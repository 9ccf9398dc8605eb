"""A Flask app served by gunicorn in the tests: /version reports the release it was started from."""
import os

from flask import Flask, jsonify

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "REVISION"), encoding="utf-8") as stamp:
    COMMIT = stamp.read().strip()

app = Flask(__name__)


@app.get("/version")
def version():
    return jsonify(commit=COMMIT, pid=os.getpid(), ppid=os.getppid())
