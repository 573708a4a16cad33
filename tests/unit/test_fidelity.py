"""lashme.providers.fidelity: faithful variants pass, variants that reshape the work are altered."""

from __future__ import annotations

import base64
import io
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from lashme.images import rendering
from lashme.providers import fidelity
from lashme.providers.base import STUDIO_PRESETS
from tests.fakes.fal_server import FakeRequest, FalStandIn
from tests.photos import jpeg_bytes, photo, photo_jpeg

PHOTOS = ("astronaut", "coffee", "chelsea", "grace_hopper")


def _warp(img: Image.Image, amount: float, seed: int = 0) -> Image.Image:
    """A smooth random displacement of up to ``amount`` x the long side: lashes/nails redrawn."""
    arr = np.asarray(img)
    h, w = arr.shape[:2]
    rng = np.random.default_rng(seed)

    def field() -> np.ndarray:
        coarse = rng.standard_normal((max(2, h // 12), max(2, w // 12))).astype(np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        return smooth * (amount * max(h, w) / np.abs(smooth).max())

    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return Image.fromarray(
        cv2.remap(arr, gx + field(), gy + field(), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    )


def _stand_in_output(fake: FalStandIn, original: bytes) -> bytes:
    """What the fal stand-in returns for this original: a 3:4 crop, warmed (a faithful variant)."""
    uri = "data:image/jpeg;base64," + base64.b64encode(original).decode()
    req = FakeRequest(
        request_id="r1",
        endpoint="fal-ai/flux/dev/image-to-image",
        arguments={"image_url": uri},
        created=time.monotonic(),
    )
    return fake.output_image(req)


@pytest.fixture(scope="module")
def stand_in():
    with FalStandIn() as fake:
        yield fake


@pytest.mark.parametrize("name", PHOTOS)
def test_the_fal_stand_in_output_is_faithful_and_its_warped_version_is_altered(stand_in, name):
    original = photo_jpeg(name)
    faithful = _stand_in_output(stand_in, original)
    verdict = fidelity.assess(original, faithful)
    assert not verdict.altered and verdict.score > 0.9
    with Image.open(io.BytesIO(faithful)) as img:
        warped = jpeg_bytes(_warp(img.convert("RGB"), 0.02))
    bad = fidelity.assess(original, warped)
    assert bad.altered and bad.score < verdict.score - 0.05
    assert bad.threshold == fidelity.ALTERED_BELOW


@pytest.mark.parametrize("name", PHOTOS)
def test_honest_edits_pass(name):
    original = photo(name)
    for preset in STUDIO_PRESETS:
        assert not fidelity.assess(original, rendering.PIPELINES[preset](original)).altered
    resized = original.resize((original.width * 2, original.height * 2), Image.Resampling.LANCZOS)
    assert fidelity.score(original, resized) > 0.97
    blurred_noisy = np.asarray(original, dtype=np.float32)
    blurred_noisy = cv2.GaussianBlur(blurred_noisy, (0, 0), 1.0) + np.random.default_rng(1).normal(
        0, 4, blurred_noisy.shape
    )
    regenerated = jpeg_bytes(Image.fromarray(np.clip(blurred_noisy, 0, 255).astype(np.uint8)), quality=70)
    assert not fidelity.assess(original, regenerated).altered


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("seed", [0, 1])
def test_reshaped_work_is_altered(name, seed):
    original = photo(name)
    assert fidelity.assess(original, _warp(original, 0.02, seed)).altered
    other = photo("coffee" if name != "coffee" else "chelsea")
    assert fidelity.score(original, other) < 0.5


def test_a_small_global_shift_is_undone():
    original = photo("astronaut")
    arr = np.asarray(original)
    shifted = Image.fromarray(np.roll(arr, (6, -4), axis=(0, 1)))
    verdict = fidelity.assess(original, shifted)
    assert not verdict.altered
    assert verdict.shift[0] == pytest.approx(-4 * 384 / 512, abs=1) and verdict.shift[1] == pytest.approx(
        6 * 384 / 512, abs=1
    )


def test_inputs_and_errors():
    original = photo("coffee")
    as_bytes = fidelity.score(photo_jpeg("coffee"), photo_jpeg("coffee"))
    as_array = fidelity.score(np.asarray(original), np.asarray(original))
    assert as_bytes > 0.99 and as_array == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError):
        fidelity.assess(b"<html>not an image</html>", original)
    with pytest.raises(ValueError):
        fidelity.assess(original, np.zeros((8, 8, 3), np.uint8))
