"""A timeout says what happened: code still working is "too slow for the timeout at N",
code going round one loop is "a loop that never ends". Read from faulthandler dumps
written here by hand, so no test waits for a clock."""

from __future__ import annotations

from perfkata.grader.process import still_working

LOOP = """Current thread 0x00007f2deea0db80 (most recent call first):
  File "/home/me/blog.py", line 7 in render_index
  File "/perfkata/grader/worker.py", line 110 in run_once
"""
LOOP_OTHER_LINE = LOOP.replace("line 7", "line 8")
QUERYING = """Current thread 0x00007f2deea0db80 (most recent call first):
  File "/venv/lib/python3.12/site-packages/sqlalchemy/engine/default.py", line 941 in do_execute
  File "/home/me/blog.py", line 12 in render_index
"""
ELSEWHERE = """Current thread 0x00007f2deea0db80 (most recent call first):
  File "/home/me/blog.py", line 30 in build_row
  File "/home/me/blog.py", line 12 in render_index
"""


def test_a_loop_seen_twice_in_the_same_function_is_not_progress():
    assert not still_working("learner print\n" + LOOP + LOOP_OTHER_LINE)


def test_a_dump_inside_the_database_driver_is_progress():
    assert still_working(LOOP + QUERYING)


def test_a_chain_of_calls_that_changed_between_dumps_is_progress():
    assert still_working(LOOP + ELSEWHERE)


def test_one_dump_alone_decides_nothing():
    assert not still_working(QUERYING)
