"""The audit hook's per-request check of rebound names (audit.namespaces_as_they_are):
its identity fast path says "nothing changed" only when nothing did, and what it binds
at freeze cannot be rebound to blind it."""

from __future__ import annotations

import builtins

import perfkata.audit as audit
import perfkata.grader.worker as worker
from perfkata.audit import namespaces_as_they_are


def test_nothing_rebound_nothing_reported():
    check = namespaces_as_they_are({})
    assert check() == []
    assert check() == []


def test_a_rebound_function_is_reported(monkeypatch):
    check = namespaces_as_they_are({"worker OPS": worker.OPS})
    monkeypatch.setattr(worker, "op_count", lambda state, req: {})
    monkeypatch.setitem(worker.OPS, "count", lambda state, req: {})
    found = check()
    assert any(entry.startswith("perfkata.grader.worker.op_count replaced") for entry in found)
    assert any(entry.startswith("worker OPS.count replaced") for entry in found)


def test_rebinding_the_checks_own_helpers_does_not_blind_it(monkeypatch):
    check = namespaces_as_they_are({})
    with monkeypatch.context() as patch:  # undone before asserting: pytest needs `any`
        patch.setattr(audit, "same", lambda before, now: True)
        patch.setattr(builtins, "any", lambda items: False)
        patch.setattr(builtins, "callable", lambda value: False)
        patch.setattr(worker, "op_memory", lambda state, req: {})
        found = [entry.split(" replaced")[0] for entry in check()]
    assert "perfkata.audit.same" in found
    assert "perfkata.grader.worker.op_memory" in found


def test_a_removed_name_takes_the_full_walk_and_the_rest_is_still_seen(monkeypatch):
    check = namespaces_as_they_are({})
    monkeypatch.delattr(worker, "op_scenarios")  # absent now: the fast path's getter fails
    assert check() == []  # removing is not rebinding (as before the fast path)
    monkeypatch.setattr(worker, "op_prepare", lambda state, req: None)
    assert any(e.startswith("perfkata.grader.worker.op_prepare replaced") for e in check())
