"""The RQ queue on the run's real Redis: idempotent enqueue and queue positions (no worker running)."""

from __future__ import annotations

import threading
import uuid

import pytest

from lashme.jobs import queue
from lashme.ops.settings import get_settings


@pytest.fixture(autouse=True)
def private_queue(monkeypatch, redis_conn):
    """A queue no worker listens to, so jobs stay where the test put them."""
    monkeypatch.setattr(get_settings(), "queue_name", f"test-{uuid.uuid4().hex[:8]}")


def test_enqueue_is_idempotent_per_job(redis_conn):
    first = queue.enqueue_generation("a" * 32)
    again = queue.enqueue_generation("a" * 32)
    assert first.id == again.id == queue.rq_job_id("a" * 32)
    assert queue.get_queue().count == 1
    assert list(first.args) == ["a" * 32]  # ids only, never image bytes
    assert first.retries_left == 2


def test_queue_positions_are_one_based(redis_conn):
    ids = [c * 32 for c in "bcd"]
    for job_id in ids:
        queue.enqueue_generation(job_id)
    assert [queue.queue_position(j) for j in ids] == [1, 2, 3]
    assert queue.queue_position("e" * 32) is None


def test_notify_publishes_on_job_and_queue_channels(redis_conn):
    pubsub = redis_conn.pubsub()
    pubsub.subscribe(queue.job_channel("f" * 32), queue.QUEUE_CHANNEL)
    for _ in range(2):
        pubsub.get_message(timeout=1)
    queue.notify("f" * 32, "DONE")
    got = []
    for _ in range(20):
        msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if msg:
            got.append((msg["channel"].decode(), msg["data"].decode()))
        if len(got) == 2:
            break
    pubsub.close()
    assert got == [(queue.job_channel("f" * 32), "DONE"), (queue.QUEUE_CHANNEL, "f" * 32)]


def test_a_watcher_wakes_once_per_change(redis_conn):
    """notify() publishes on the job's and the queue's channel; a job page's watcher re-reads once."""
    import asyncio
    import concurrent.futures

    import redis.asyncio as aioredis

    from lashme.app.job import JobWatch

    async def wakes() -> list[bool]:
        client = aioredis.from_url(queue.redis_url())
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(queue.job_channel("f" * 32), queue.QUEUE_CHANNEL)
            watch = JobWatch(pubsub)
            seen = [await watch.wait(0.2)]  # the subscribe confirmations announce no change
            queue.notify("f" * 32, "DONE")
            seen += [await watch.wait(2), await watch.wait(0.3)]
            return seen
        finally:
            await pubsub.aclose()
            await client.aclose()

    # its own event loop in a thread of its own: an earlier test may leave this thread's loop running
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, wakes()).result(timeout=60) == [False, True, False]


def test_concurrent_enqueues_of_one_job_queue_it_once(redis_conn):
    """Sweepers and webhooks racing on one job: the check-then-enqueue is atomic per job."""
    job_id = "9" * 32
    callers = 8
    barrier = threading.Barrier(callers)
    errors: list[BaseException] = []

    def enqueue() -> None:
        try:
            barrier.wait()
            queue.enqueue_generation(job_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for _round in range(5):
        threads = [threading.Thread(target=enqueue) for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert queue.get_queue().get_job_ids() == [queue.rq_job_id(job_id)]
    assert not redis_conn.exists(queue.enqueue_lock_key(job_id))
