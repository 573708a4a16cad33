"""Unpaid pixels stay watermarked and low-res; an unlock renders the clean variant at the upload's size."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lashme.accounts import auth
from lashme.credits import unlocks
from lashme.images import full_size, measures, previews, working_copy
from lashme.jobs import fullres, uploads
from lashme.jobs import lifecycle as jobs
from lashme.jobs.generation import run as run_job
from lashme.models import JobStatus, Variant
from lashme.ops.db import session_scope
from lashme.providers.studio import StudioProvider
from tests.photos import chelsea_jpeg, photo_jpeg


def _img(storage, key) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(storage.get(key))).convert("RGB"), dtype=np.int16)


def _clean_like(data: bytes, preset: str, size: tuple[int, int]) -> np.ndarray:
    """The same preset rendered without a watermark, at ``size`` (what an unwatermarked file would show)."""
    out = StudioProvider(max_side=working_copy.PREVIEW_WORKING_SIDE).generate(data, [preset])[0].image
    return np.asarray(previews.make_thumbnail(out, max_side=max(size)), dtype=np.int16)


@pytest.fixture
def done_job(clean_db, redis_conn):
    """A signed-in master's DONE job from a 2600x1950 photo (larger than any working copy)."""
    data = photo_jpeg("astronaut", (2600, 1950))
    with session_scope() as s:
        uid = auth.sign_up(s, email="master@example.com", password="Secret123", signup_bonus=3).id
    job = uploads.submit_photo(data, user_id=uid, anon_token=None, enqueue=False)
    assert run_job(job.id) == JobStatus.DONE
    with session_scope() as s:
        variants = jobs.variants_of(s, job.id)
        for v in variants:
            s.expunge(v)
    return {"uid": uid, "job": job.id, "variants": variants, "data": data}


def test_every_stored_file_before_an_unlock_is_watermarked_and_low_res(done_job, storage):
    """Decode the stored files of each variant: the shown ones are watermarked; the clean ones are low-res and unsigned."""
    prefix = done_job["variants"][0].preview_key.rsplit("/variants/", 1)[0] + "/variants/"
    stored = [k for k in _keys(storage, prefix)]
    for v in done_job["variants"]:
        assert v.full_key is None and v.insta_key is None
        # what anyone may be given before an unlock: the watermarked files only
        assert fullres.display_keys(v, unlocked=False) == fullres.DisplayKeys(
            v.preview_key, v.thumb_key, False
        )
        assert fullres.display_keys(v, unlocked=True) == fullres.DisplayKeys(
            v.clean_preview_key, v.clean_thumb_key, True
        )
        pairs = (
            (v.preview_key, v.clean_preview_key, previews.PREVIEW_MAX_SIDE),
            (v.thumb_key, v.clean_thumb_key, previews.THUMB_MAX_SIDE),
        )
        for key, clean_key, limit in pairs:
            served = _img(storage, key)
            assert max(served.shape[:2]) <= limit
            clean = _clean_like(done_job["data"], v.preset, (served.shape[1], served.shape[0]))
            assert clean.shape == served.shape
            diff = np.abs(served - clean).max(axis=2)
            # the watermark's strokes: many pixels far off the clean render (JPEG noise stays < ~20)
            assert (diff > 60).mean() > 0.01, (key, (diff > 60).mean())
            # the private clean rendition (for the unlock's instant swap): same picture, same size, no marks
            private = _img(storage, clean_key)
            assert private.shape == served.shape
            assert (np.abs(private - clean).max(axis=2) > 60).mean() < 0.002, clean_key
    # nothing else under the variants: run-keyed previews and thumbnails, watermarked and clean (small)
    kinds = ("preview", "thumb", "clean_preview", "clean_thumb")
    assert stored and all(k.rsplit("/", 1)[1].split(".")[0] in kinds for k in stored), stored


def _keys(storage, prefix: str) -> list[str]:
    root = storage.root / prefix
    return [str(p.relative_to(storage.root)) for p in root.rglob("*.jpg")]


def test_unlock_renders_the_full_size_image_crops_and_clean_previews(done_job, storage):
    v = done_job["variants"][1]
    with session_scope() as s:
        unlocks.unlock_variant(s, user_id=done_job["uid"], variant_id=v.id, cost=1)
        status = fullres.request_render(s, v.id, enqueue=False)
    assert status.state == fullres.PENDING and not status.ready
    assert fullres.render(v.id) == fullres.READY
    with session_scope() as s:
        status = fullres.fullres_status(s, v.id)
        row = s.get(Variant, v.id)
        events = [e.data["state"] for e in jobs.events_of(s, done_job["job"]) if e.kind == "fullres"]
        keys = fullres.display_keys(row, unlocked=True)
    assert events == ["pending", "rendering", "ready"]
    assert status.ready and (status.width, status.height) == (2600, 1950)
    full = _img(storage, status.full_key)
    assert full.shape == (1950, 2600, 3)
    crops = {c.name: c for c in status.crops}
    assert {n: (c.width, c.height, c.too_small) for n, c in crops.items()} == {
        "4x5": (1080, 1350, False),
        "1x1": (1080, 1080, False),
        "9x16": (1080, 1920, False),
    }
    for c in crops.values():
        assert _img(storage, c.key).shape == (c.height, c.width, 3)
    assert keys.clean and keys.preview_key == status.clean_preview_key
    # the clean preview looks like the watermarked one minus the watermark, and carries none
    clean_preview = _img(storage, status.clean_preview_key)
    marked = _img(storage, v.preview_key)
    assert clean_preview.shape == marked.shape
    reference = _clean_like(done_job["data"], v.preset, (marked.shape[1], marked.shape[0]))
    assert np.abs(clean_preview - reference).mean() < 4
    assert (np.abs(clean_preview - reference).max(axis=2) > 60).mean() < 0.002
    # full resolution carries more detail than the working copy upscaled would
    working = StudioProvider(max_side=working_copy.FULLRES_WORKING_SIDE).generate(
        done_job["data"], [v.preset]
    )[0]
    upscaled = np.asarray(working.image.resize((2600, 1950), Image.Resampling.BICUBIC))
    assert measures.laplacian_variance(full.astype(np.uint8)) > 1.1 * measures.laplacian_variance(upscaled)


def test_render_is_cached_and_refused_for_a_locked_variant(done_job, storage):
    locked, paid = done_job["variants"][0], done_job["variants"][2]
    assert fullres.render(locked.id) == "locked"
    with session_scope() as s:
        assert s.get(Variant, locked.id).full_key is None
        unlocks.unlock_variant(s, user_id=done_job["uid"], variant_id=paid.id, cost=1)
        fullres.request_render(s, paid.id, enqueue=False)
    assert fullres.render(paid.id) == fullres.READY
    with session_scope() as s:
        first = fullres.fullres_status(s, paid.id)
        again = fullres.request_render(s, paid.id, enqueue=False)
    assert again == first and again.ready
    mtime = (storage.root / first.full_key).stat().st_mtime_ns
    assert fullres.render(paid.id) == fullres.READY  # cached: not rendered again
    assert (storage.root / first.full_key).stat().st_mtime_ns == mtime
    with session_scope() as s:
        states = [e.data["state"] for e in jobs.events_of(s, done_job["job"]) if e.kind == "fullres"]
    assert states == ["pending", "rendering", "ready"]


def test_a_small_photo_is_never_upscaled_and_its_crops_say_too_small(clean_db, redis_conn, storage):
    with session_scope() as s:
        uid = auth.sign_up(s, email="small@example.com", password="Secret123", signup_bonus=3).id
    job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)  # 451x300
    run_job(job.id)
    with session_scope() as s:
        v = jobs.variants_of(s, job.id)[0]
        unlocks.unlock_variant(s, user_id=uid, variant_id=v.id, cost=1)
        fullres.request_render(s, v.id, enqueue=False)
    fullres.render(v.id)
    with session_scope() as s:
        status = fullres.fullres_status(s, v.id)
    assert (status.width, status.height) == (451, 300)
    assert _img(storage, status.full_key).shape == (300, 451, 3)
    sizes = {c.name: (c.width, c.height, c.too_small) for c in status.crops}
    assert sizes == {"4x5": (240, 300, True), "1x1": (300, 300, True), "9x16": (169, 300, True)}


def test_request_render_refuses_a_variant_that_is_not_ready(clean_db):
    from lashme.errors import NotFound

    with session_scope() as s, pytest.raises(NotFound):
        fullres.request_render(s, "f" * 32, enqueue=False)


def test_edit_transfer_is_exact_for_an_identity_edit_and_keeps_the_working_look():
    from tests.photos import photo

    full = np.array(photo("coffee", (2400, 1600)))
    before = previews.resize_array(full, (1200, 800))
    same = full.copy()
    full_size.apply_edit_at_full_size(same, before, before.copy())
    assert np.abs(same.astype(np.int16) - full).max() <= 1
    after = np.clip(before.astype(np.int16) * 1.2 + 10, 0, 255).astype(np.uint8)  # brighter, more contrast
    edited = full.copy()
    full_size.apply_edit_at_full_size(edited, before, after)
    back = previews.resize_array(edited, (1200, 800)).astype(np.int16)
    assert np.abs(back - after).mean() < 2.0


def test_crops_never_upscale():
    src = np.zeros((1500, 1000, 3), np.uint8)
    crop, small = previews.crop_aspect_array(src, (1080, 1920))
    assert small and crop.shape == (1500, 844, 3)
    crop, small = previews.crop_aspect_array(src, (800, 800))
    assert not small and crop.shape == (800, 800, 3)


def test_the_clean_renditions_are_recorded_by_the_publishing_run_only(done_job, storage):
    from lashme.jobs import generation

    v = done_job["variants"][0]
    prefix = v.preview_key.rsplit("variants/", 1)[0]
    image = Image.new("RGB", (640, 480), "white")
    # a run whose files are not the published ones (stale lease) records nothing; nor does a second call
    assert generation.store_clean_renditions(done_job["job"], {0: image}, prefix, 99, storage=storage) == 0
    assert generation.store_clean_renditions(done_job["job"], {0: image}, prefix, 1, storage=storage) == 0
    with session_scope() as s:
        assert s.get(Variant, v.id).clean_preview_key == v.clean_preview_key


def test_a_failed_clean_rendition_leaves_the_job_done_and_the_card_watermarked(
    clean_db, redis_conn, monkeypatch
):
    from lashme.images import previews

    def broken(_img):
        raise OSError("disk full")

    monkeypatch.setattr(previews, "render_clean_display_files", broken)
    with session_scope() as s:
        uid = auth.sign_up(s, email="m2@example.com", password="Secret123", signup_bonus=3).id
    job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    assert run_job(job.id) == JobStatus.DONE
    with session_scope() as s:
        v = jobs.variants_of(s, job.id)[0]
        assert v.clean_preview_key is None
        # unlocked before any clean file exists: the watermarked files until the full-size render
        assert fullres.display_keys(v, unlocked=True) == fullres.DisplayKeys(
            v.preview_key, v.thumb_key, False
        )
