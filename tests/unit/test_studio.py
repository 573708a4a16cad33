"""The studio engine: each preset's measurable effect on real photos, determinism, the provider contract."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from PIL import Image

from lashme.images import measures, rendering, variant_files, working_copy
from lashme.providers import studio
from lashme.providers.base import STUDIO_PRESETS, GeneratedVariant, Provider, ProviderError
from tests.photos import coffee_jpeg, photo, photo_jpeg

PHOTOS = ("astronaut", "coffee", "grace_hopper", "chelsea")


def _corner_to_centre(img: Image.Image) -> float:
    gray = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY).astype(np.float64)
    h, w = gray.shape
    ch, cw = h // 8, w // 8
    corners = [gray[:ch, :cw], gray[:ch, -cw:], gray[-ch:, :cw], gray[-ch:, -cw:]]
    centre = gray[3 * h // 8 : 5 * h // 8, 3 * w // 8 : 5 * w // 8]
    return float(np.mean([c.mean() for c in corners]) / centre.mean())


# --- the looks (properties on real photos: tests/unit/test_studio_quality.py) -------------


@pytest.mark.parametrize("name", PHOTOS)
def test_warm_glow_warms(name):
    original = photo(name)
    r0, _, b0 = measures.mean_rgb(rendering.natural(original))
    r1, _, b1 = measures.mean_rgb(rendering.warm_glow(original))
    assert (r1 - b1) > (r0 - b0) + 8


@pytest.mark.parametrize(
    "name,size", [("astronaut", None), ("chelsea", None), ("grace_hopper", (1536, 1800))]
)
def test_crisp_detail_raises_laplacian_variance(name, size):
    original = photo(name, size)
    sharpened = rendering.crisp_detail(original)
    assert measures.laplacian_variance(sharpened) > 1.3 * measures.laplacian_variance(original)


@pytest.mark.parametrize("name", PHOTOS)
def test_soft_focus_has_no_vignette(name):
    original = photo(name)
    assert _corner_to_centre(rendering.soft_focus(original)) > 0.95 * _corner_to_centre(original)


# --- all pipelines -----------------------------------------------------------------------


def test_pipelines_are_the_studio_presets_in_order():
    assert tuple(rendering.PIPELINES) == STUDIO_PRESETS == ("natural", "warm_glow", "crisp_detail", "soft_focus")


@pytest.mark.parametrize("preset", STUDIO_PRESETS)
def test_each_pipeline_keeps_size_and_changes_the_photo(preset):
    for original in (photo("grace_hopper"), photo("coffee").convert("RGBA")):
        out = rendering.PIPELINES[preset](original)
        assert out.mode == "RGB" and out.size == original.size
        diff = np.abs(np.asarray(out, dtype=np.int16) - np.asarray(original.convert("RGB"), dtype=np.int16))
        # natural leaves a well-balanced photo nearly alone (its lash/edge retouch still shows)
        assert diff.mean() > (0.5 if preset == "natural" else 1)


# --- the provider ------------------------------------------------------------------------


def test_generate_returns_four_variants_in_preset_order():
    data = photo_jpeg("astronaut", (4032, 3024))
    variants = studio.StudioProvider().generate(data, STUDIO_PRESETS)
    assert [v.index for v in variants] == [0, 1, 2, 3]
    assert [v.preset for v in variants] == list(STUDIO_PRESETS)
    base = working_copy.load_for_processing(data)
    for v in variants:
        assert isinstance(v, GeneratedVariant) and v.filtered_reason is None
        assert v.image.mode == "RGB" and v.image.size == (2048, 1536)
        assert np.array_equal(np.asarray(v.image), np.asarray(rendering.PIPELINES[v.preset](base)))


def test_generate_is_deterministic_down_to_the_file_bytes():
    data = photo_jpeg("grace_hopper", (2400, 2800))
    provider = studio.StudioProvider()
    runs = [
        [variant_files.render_variant_files(v.image) for v in provider.generate(data, STUDIO_PRESETS)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert max(working_copy.load_for_processing(data).size) == 2048


def test_generate_a_subset_and_small_originals():
    variants = studio.StudioProvider().generate(coffee_jpeg(), ["crisp_detail"])
    assert [(v.index, v.preset) for v in variants] == [(0, "crisp_detail")]
    assert variants[0].image.size == (600, 400)


def test_studio_provider_satisfies_the_protocol():
    provider = studio.StudioProvider()
    assert isinstance(provider, Provider) and provider.name == "studio"


def test_the_engine_entry_points_stay_importable_from_the_provider_module():
    assert studio.render is rendering.render and studio.StudioSettings is rendering.StudioSettings


def test_generated_variant_is_frozen():
    v = GeneratedVariant(index=0, preset="natural", image=None, filtered_reason="nsfw")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.index = 1  # type: ignore[misc]


def test_undecodable_original_is_a_permanent_provider_error():
    with pytest.raises(ProviderError) as info:
        studio.StudioProvider().generate(b"<html>not a photo</html>", STUDIO_PRESETS)
    assert info.value.transient is False and info.value.reason_key == "generation.failed"
    truncated = coffee_jpeg()[:2000]
    with pytest.raises(ProviderError):
        studio.StudioProvider().generate(truncated, STUDIO_PRESETS)


def test_unknown_preset_is_a_permanent_provider_error():
    with pytest.raises(ProviderError) as info:
        studio.StudioProvider().generate(coffee_jpeg(), ["natural", "cartoonify"])
    assert info.value.transient is False and "cartoonify" in str(info.value)


def test_provider_error_defaults():
    err = ProviderError("backend timed out", transient=True)
    assert err.transient and err.reason_key == "generation.failed" and str(err) == "backend timed out"
