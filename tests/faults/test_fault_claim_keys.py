"""cleanup-cron's claim keys are named by the learner (`cron:<job>:<slot>`, no prefix of
ours): a run that is killed before its clean-up — the crash scenario's child, a SIGKILLed
perfkata — must still leave the next grade's sweep a way to find and delete them."""

from __future__ import annotations

import uuid

import pytest
import redis

from perfkata.grader.leftovers import sweep_redis
from perfkata.katas.cleanup_cron.workload import ClaimClient
from perfkata.ownership import OWNER_ENV, host_id


def test_a_killed_runs_claim_keys_are_swept_with_its_owner(
    real_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose owner has died, that claimed a slot and never cleaned up
    tag = f"999999_{host_id()}{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv(OWNER_ENV, tag)
    claims = ClaimClient.from_url(real_redis_url)
    slot = f"cron:purge_uploads:{uuid.uuid4().hex}"
    assert claims.set(slot, "1", nx=True, ex=3600)
    plain = redis.Redis.from_url(real_redis_url)
    assert plain.exists(slot) and plain.sismember(claims.ledger, slot)
    # When the next grade sweeps the leftovers of dead owners
    sweep_redis(real_redis_url, owner_dead=lambda pid: pid == 999999)
    # Then the claim key went with the list that named it
    assert not plain.exists(slot)
    assert not plain.exists(claims.ledger)
    claims.close()
    plain.close()


def test_a_live_runs_claim_keys_are_left_alone(
    real_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose owner is alive
    tag = f"999998_{host_id()}{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv(OWNER_ENV, tag)
    claims = ClaimClient.from_url(real_redis_url)
    slot = f"cron:purge_uploads:{uuid.uuid4().hex}"
    claims.set(slot, "1", nx=True, ex=60)
    # When another grade sweeps
    sweep_redis(real_redis_url, owner_dead=lambda pid: False)
    # Then its claim is still there (and is cleaned up here)
    plain = redis.Redis.from_url(real_redis_url)
    assert plain.exists(slot)
    plain.delete(slot, claims.ledger)
    claims.close()
    plain.close()
