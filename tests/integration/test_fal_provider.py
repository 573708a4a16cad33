"""generation.run with the fal adapter against the stand-in over real HTTPS (real fal_client)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from sqlalchemy import select

from lashme.jobs import generation
from lashme.jobs import lifecycle as jobs
from lashme.models import JobStatus, ProviderRequest
from lashme.ops.db import session_scope
from tests.fal_support import FAL_KEY, load_job, submit_job

WARM = "golden-hour"  # a word of the warm_glow preset's prompt


def _requests(job_id):
    with session_scope() as s:
        return list(
            s.execute(
                select(ProviderRequest)
                .where(ProviderRequest.job_id == job_id)
                .order_by(ProviderRequest.index)
            ).scalars()
        )


def _events(job_id, kind):
    with session_scope() as s:
        return [e for e in jobs.events_of(s, job_id) if e.kind == kind]


def test_happy_path_four_variants_with_cost_record(fal, storage):
    fal.script.queue_time, fal.script.latency, fal.script.queue_positions = 0.3, 0.6, [3, 2, 1, 0]
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.DONE
    job = load_job(job_id)
    with session_scope() as s:
        variants = jobs.variants_of(s, job_id)
    assert [v.preset for v in variants] == ["natural", "warm_glow", "crisp_detail", "soft_focus"]
    assert not any(v.filtered for v in variants)
    for v in variants:
        img = Image.open(io.BytesIO(storage.get(v.source_key)))  # fal's output, kept private
        assert img.size == (576, 768) and "exif" not in img.info
        assert v.full_key is None and v.insta_key is None  # clean files are rendered on unlock
    # one billed request per preset, each with the Authorization: Key header
    assert fal.accepted == 4 and {auth for _, auth in fal.posts} == {f"Key {FAL_KEY}"}
    reqs = _requests(job_id)
    assert [r.request_id for r in reqs] == list(fal.requests)
    assert all(r.status == "COMPLETED" and r.image_count == 1 for r in reqs)
    # FLUX arguments from the pinned preset versions; the original as a small EXIF-free JPEG data URI
    args = [r.arguments for r in fal.requests.values()]
    assert {a["strength"] for a in args} == {0.45} and {a["image_size"] for a in args} == {"portrait_4_3"}
    assert all(a["enable_safety_checker"] and a["num_images"] == 1 for a in args)
    assert all(a["prompt"].startswith("Professional beauty photography") for a in args)
    assert WARM in args[1]["prompt"]
    sent = base64.b64decode(args[0]["image_url"].split(",", 1)[1])
    assert args[0]["image_url"].startswith("data:image/jpeg;base64,")
    sent_img = Image.open(io.BytesIO(sent))
    assert max(sent_img.size) <= 1536 and "exif" not in sent_img.info
    assert job.preset_version_ids and len(job.preset_version_ids) == 4
    assert job.provider_model == "fal-ai/flux/dev/image-to-image"
    assert job.provider_image_count == 4 and job.provider_cost_usd == pytest.approx(4 * 0.03)
    assert job.provider_latency_s >= 0.6 and job.provider_completed_at >= job.provider_submitted_at
    # queue positions and status changes are in the event trail, without repeats
    statuses = [
        (e.data["index"], e.message, e.data.get("queue_position")) for e in _events(job_id, "provider_status")
    ]
    assert (0, "IN_QUEUE", 3) in statuses and (0, "IN_PROGRESS", None) in statuses
    assert len(statuses) == len(set(statuses))
    assert len(_events(job_id, "provider_submitted")) == 4
    # fal URLs never reach the variant rows
    assert not any(fal.url in (v.full_key or "") for v in variants)


def test_one_of_four_nsfw_is_filtered(fal):
    fal.script.nsfw = lambda args: WARM in args["prompt"]
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.DONE
    with session_scope() as s:
        variants = jobs.variants_of(s, job_id)
    assert [v.filtered for v in variants] == [False, True, False, False]
    assert variants[1].full_key is None and variants[1].preview_key is None
    assert load_job(job_id).provider_image_count == 4  # fal still bills the filtered image


def test_all_nsfw_fails_with_a_plain_reason(fal):
    fal.script.nsfw = lambda args: True
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.FAILED
    job = load_job(job_id)
    assert job.error_key == "generation.all_filtered"
    assert fal.accepted == 4


def test_429_once_is_absorbed_by_one_submission(fal):
    fal.script.submit_errors = [429]
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.DONE
    assert [code for code, _ in fal.posts][:2] == [429, 200]
    assert fal.accepted == 4 and load_job(job_id).attempts == 1


def test_rate_limited_status_retries_the_job_and_resumes_the_same_requests(fal):
    fal.script.latency = 0.3
    fal.script.status_errors = [429, 429]  # more than fal_client's own 2 attempts
    job_id = submit_job()
    with pytest.raises(generation.RetryableJobError):
        generation.run(job_id)
    first_ids = [r.request_id for r in _requests(job_id)]
    assert load_job(job_id).status == JobStatus.PENDING and len(first_ids) >= 1
    assert generation.run(job_id) == JobStatus.DONE
    assert [r.request_id for r in _requests(job_id)][: len(first_ids)] == first_ids
    assert fal.accepted == 4  # the retry paid for nothing twice


def test_persistent_500_fails_after_the_retries(fal):
    fal.script.submit_errors = [500] * 10
    job_id = submit_job()
    for _ in range(2):
        with pytest.raises(generation.RetryableJobError):
            generation.run(job_id)
    assert generation.run(job_id) == JobStatus.FAILED
    job = load_job(job_id)
    assert job.error_key == "generation.failed" and "500" in job.error_detail and job.attempts == 3
    assert fal.accepted == 0


def test_validation_error_is_permanent(fal):
    fal.script.submit_errors = [422]
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.FAILED
    assert load_job(job_id).error_key == "generation.rejected"


def test_deadline_cancels_at_fal_and_fails(fal, monkeypatch):
    from lashme.ops.settings import get_settings

    monkeypatch.setenv("LASHME_FAL_DEADLINE", "1")
    get_settings.cache_clear()
    fal.script.latency = 60
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.FAILED
    assert load_job(job_id).error_key == "generation.timed_out"
    assert sorted(fal.cancels) == sorted(fal.requests)


@pytest.mark.parametrize(
    ("output", "transient"), [("bad_json", True), ("image_404", False), ("not_image", False)]
)
def test_malformed_output_fails_the_job(fal, output, transient):
    fal.script.output = output
    job_id = submit_job()
    if transient:  # a broken body may be a glitch: retried (same requests), then failed
        for _ in range(2):
            with pytest.raises(generation.RetryableJobError):
                generation.run(job_id)
    assert generation.run(job_id) == JobStatus.FAILED
    job = load_job(job_id)
    assert job.error_key == "generation.bad_output", job.error_detail
    assert fal.accepted == 4


def test_a_concurrent_attempt_resumes_the_recorded_requests_instead_of_failing(fal, storage):
    """Two attempts of one job both submitted: the unique (job, index) row makes the second resume."""
    from lashme.jobs.provider_runs import DbJobContext
    from lashme.providers.fal import FalProvider

    class StaleContext(DbJobContext):
        def submitted(self):  # the first read happened before the other attempt recorded anything
            stale, self.stale = self.stale, False
            return {} if stale else super().submitted()

    job = load_job(submit_job())
    original = storage.get(job.original_key)
    first = StaleContext(job, storage=storage)
    first.stale = False
    FalProvider().generate_for_job(original, job.presets, first)
    first_ids = [r.request_id for r in _requests(job.id)]
    second = StaleContext(job, storage=storage)
    second.stale = True
    got = FalProvider().generate_for_job(original, job.presets, second)
    assert len(got) == 4 and all(v.image is not None for v in got)
    assert [r.request_id for r in _requests(job.id)] == first_ids
    duplicates = [rid for rid in fal.requests if rid not in first_ids]
    assert len(duplicates) == 4 and sorted(fal.cancels) == sorted(duplicates)


@pytest.mark.parametrize("output", ["no_nsfw_flags", "null_nsfw_flags"])
def test_missing_nsfw_flags_count_as_filtered(fal, output):
    """We always ask for the safety checker: an answer without its verdict is not treated as safe."""
    fal.script.output = output
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.FAILED
    assert load_job(job_id).error_key == "generation.all_filtered"


def test_an_output_larger_than_the_cap_is_refused_while_reading(fal, monkeypatch):
    from lashme.ops.settings import get_settings

    monkeypatch.setenv("LASHME_FAL_OUTPUT_MAX_BYTES", "20000")  # the stand-in's outputs are ~50-100 kB
    get_settings.cache_clear()
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.FAILED
    job = load_job(job_id)
    assert job.error_key == "generation.bad_output" and "larger than 20000 bytes" in job.error_detail


def test_outputs_are_fetched_over_https_only(fal):
    from lashme.providers.base import ProviderError
    from lashme.providers.fal import FalProvider

    with pytest.raises(ProviderError) as err:
        FalProvider()._download(fal.url.replace("https://", "http://") + "cdn/x-0.jpg")
    assert err.value.reason_key == "generation.bad_output" and "not https" in str(err.value)
    fal.script.output = "redirect_http"  # a redirect from https to plain http is refused too
    job_id = submit_job()
    assert generation.run(job_id) == JobStatus.FAILED
    job = load_job(job_id)
    assert job.error_key == "generation.bad_output" and "not https" in job.error_detail


def test_a_job_failed_by_the_queue_cancels_its_open_fal_requests(fal):
    """Retries exhausted while fal still works: the failure callback's fail() cancels what is running."""
    from lashme.jobs import tasks

    fal.script.latency = 60
    fal.script.status_errors = [429] * 4  # beyond fal_client's own attempts: a transient job error
    job_id = submit_job()
    with pytest.raises(generation.RetryableJobError):
        generation.run(job_id)
    assert fal.accepted == 4 and fal.cancels == []

    class RQJob:
        args = [job_id]
        retries_left = 0

    tasks.on_generate_failure(RQJob, None, RuntimeError, RuntimeError("retries exhausted"), None)
    assert load_job(job_id).status == JobStatus.FAILED
    assert sorted(fal.cancels) == sorted(fal.requests)
    assert all(r.status == "CANCELED" for r in _requests(job_id))
    assert len(_events(job_id, "provider_canceled")) == 4
    generation.fail(job_id, error_key="generation.failed")  # idempotent: nothing canceled twice
    assert len(fal.cancels) == 4


def _priced_user_job(email: str) -> tuple[int, str]:
    from lashme.accounts import auth
    from lashme.credits import pricing
    from lashme.jobs import uploads
    from tests.photos import astronaut_jpeg

    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
        uid = auth.sign_up(s, email=email, password="Secret123", signup_bonus=3).id
    job = uploads.submit_photo(astronaut_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    assert job.provider == "fal" and job.reserved_credits == 1
    return uid, job.id


def _assert_released(uid: int) -> None:
    from lashme.credits import ledger, ledger_check

    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=3, held=0)
        assert ledger_check.verify(s).ok


def test_all_nsfw_releases_the_reserved_credit(fal):
    fal.script.nsfw = lambda args: True
    uid, job_id = _priced_user_job("nsfw@example.com")
    assert generation.run(job_id) == JobStatus.FAILED
    assert load_job(job_id).error_key == "generation.all_filtered"
    _assert_released(uid)


def test_persistent_500_releases_the_reserved_credit(fal):
    fal.script.submit_errors = [500] * 10
    uid, job_id = _priced_user_job("five-hundred@example.com")
    for _ in range(2):
        with pytest.raises(generation.RetryableJobError):
            generation.run(job_id)
    assert generation.run(job_id) == JobStatus.FAILED
    assert load_job(job_id).error_key == "generation.failed" and fal.accepted == 0
    _assert_released(uid)


def test_a_failed_job_records_the_cost_of_the_requests_that_completed(fal):
    """The last request fails at fal after the others completed (and were billed): the job keeps their cost."""
    from lashme.images import presets

    job_id = submit_job()
    with session_scope() as s:
        last_prompt = presets.active_versions(s, "fal", load_job(job_id).presets)[-1].prompt
    fal.script.completed_error = "runner crashed"
    fal.script.fails = lambda args: args["prompt"] == last_prompt
    assert generation.run(job_id) == JobStatus.FAILED
    job = load_job(job_id)
    assert job.error_key == "generation.rejected"
    completed = [r for r in _requests(job_id) if r.status == "COMPLETED"]
    assert completed and {r.index for r in completed} <= {0, 1, 2}
    assert job.provider_image_count == len(completed)
    assert job.provider_cost_usd == pytest.approx(0.03 * len(completed))
    last = max(r.completed_at for r in completed)
    assert job.provider_completed_at == last
    expected = (last - job.provider_submitted_at).total_seconds()
    assert job.provider_latency_s == pytest.approx(expected, abs=0.002)
