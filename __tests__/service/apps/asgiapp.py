"""A FastAPI app served by uvicorn in the tests: /version reports the release it was started from."""
import os

from fastapi import FastAPI

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "REVISION"), encoding="utf-8") as stamp:
    COMMIT = stamp.read().strip()

app = FastAPI()


@app.get("/version")
def version():
    return {"commit": COMMIT, "pid": os.getpid(), "ppid": os.getppid()}
