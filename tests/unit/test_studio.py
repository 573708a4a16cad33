"""lashme.providers.studio: each preset's measurable effect on real photos, determinism, the contract."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from PIL import Image

from lashme.images import imaging
from lashme.providers import studio
from lashme.providers.base import STUDIO_PRESETS, GeneratedVariant, Provider, ProviderError
from tests.photos import coffee_jpeg, photo, photo_jpeg

PHOTOS = ("astronaut", "coffee", "grace_hopper", "chelsea")
LEFT_CHEEK = (193, 108, 228, 135)  # skin in the native 512x512 astronaut
CHIN = (205, 155, 260, 175)
EYES = (190, 92, 300, 106)  # eyes and brows: fine dark edges on skin
HELMET_RIM = (100, 180, 200, 260)


def _linear(img: Image.Image) -> np.ndarray:
    x = np.asarray(img, dtype=np.float64) / 255
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _encode(lin: np.ndarray) -> Image.Image:
    x = np.clip(lin, 0, 1)
    x = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return Image.fromarray(np.round(x * 255).astype(np.uint8))


def _cast(img: Image.Image, gains: tuple[float, float, float]) -> Image.Image:
    """A colour cast as a wrong white balance: per-channel gains in linear light."""
    return _encode(_linear(img) * np.array(gains))


def _lab(img: Image.Image) -> np.ndarray:
    """CIE L*a*b* (L 0..100, a/b signed) as float32."""
    return cv2.cvtColor(np.asarray(img, dtype=np.float32) / 255, cv2.COLOR_RGB2Lab)


def _neutral_mask(img: Image.Image) -> np.ndarray:
    """Pixels that are grey in the uncast photo (walls, whites, metal, fur highlights)."""
    lab = _lab(img)
    return (np.hypot(lab[..., 1], lab[..., 2]) < 8) & (lab[..., 0] > 20) & (lab[..., 0] < 95)


def _cast_strength(img: Image.Image, mask: np.ndarray) -> float:
    """Distance of the mean a*b* of the reference-grey pixels from neutral."""
    lab = _lab(img)[mask]
    return float(np.hypot(lab[:, 1].mean(), lab[:, 2].mean()))


def _median_luma(img: Image.Image) -> float:
    return float(np.median(cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY)))


def _b_over_r(img: Image.Image) -> float:
    r, _, b = imaging.mean_rgb(img)
    return b / r


def _corner_to_centre(img: Image.Image) -> float:
    gray = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY).astype(np.float64)
    h, w = gray.shape
    ch, cw = h // 8, w // 8
    corners = [gray[:ch, :cw], gray[:ch, -cw:], gray[-ch:, :cw], gray[-ch:, -cw:]]
    centre = gray[3 * h // 8 : 5 * h // 8, 3 * w // 8 : 5 * w // 8]
    return float(np.mean([c.mean() for c in corners]) / centre.mean())


def _hf_ratio(before: Image.Image, after: Image.Image, box: tuple[int, int, int, int]) -> float:
    return imaging.laplacian_variance(after.crop(box)) / imaging.laplacian_variance(before.crop(box))


# --- natural -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("gains", [(0.7, 0.82, 1.0), (1.0, 0.85, 0.62)], ids=["blue-cast", "tungsten-cast"])
def test_natural_moves_a_colour_cast_toward_neutral(name, gains):
    original = photo(name)
    greys = _neutral_mask(original)
    assert greys.mean() > 0.005  # the photo has grey references to judge by
    cast = _cast(original, gains)
    assert _cast_strength(cast, greys) > 5  # the references are visibly tinted
    assert _cast_strength(studio.natural(cast), greys) < 0.7 * _cast_strength(cast, greys)


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper", "chelsea"])
def test_natural_lowers_the_blue_red_ratio_of_a_blue_cast(name):
    original = photo(name)
    cast = _cast(original, (0.7, 0.82, 1.0))
    assert _b_over_r(cast) > 1.1 * _b_over_r(original)
    assert _b_over_r(studio.natural(cast)) < 0.96 * _b_over_r(cast)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_natural_brightens_an_underexposed_photo(name):
    original = photo(name)
    dark = _encode(_linear(original) * 0.25)  # two stops under
    out = studio.natural(dark)
    target = _median_luma(original)
    assert _median_luma(out) > _median_luma(dark) + 30
    assert abs(_median_luma(out) - target) < abs(_median_luma(dark) - target) / 2


def test_natural_is_gentle_on_a_well_balanced_photo():
    original = photo("astronaut")
    out = np.asarray(studio.natural(original), dtype=np.int16)
    assert 0.5 < np.abs(out - np.asarray(original, dtype=np.int16)).mean() < 8
    assert _b_over_r(studio.natural(original)) == pytest.approx(_b_over_r(original), rel=0.05)


# --- warm_glow ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_warm_glow_warms(name):
    original = photo(name)
    r0, _, b0 = imaging.mean_rgb(original)
    r1, _, b1 = imaging.mean_rgb(studio.warm_glow(original))
    assert (r1 - b1) > (r0 - b0) + 8


def test_warm_glow_bloom_only_brightens_and_spreads_around_highlights():
    original = photo("astronaut", (1024, 1024))
    graded = cv2.LUT(np.asarray(original), studio._WARM_LUT)  # the grade without the bloom
    out = np.asarray(studio.warm_glow(original))
    assert np.all(out >= graded)  # screen blending never darkens
    lift = (out.astype(np.int16) - graded).max(axis=2)
    bright = cv2.cvtColor(graded, cv2.COLOR_RGB2GRAY) > 200
    halo = cv2.dilate(bright.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool) & ~bright
    assert halo.any() and lift[halo].mean() > 3  # glow spills into darker pixels next to highlights


# --- crisp_detail ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,size", [("astronaut", None), ("chelsea", None), ("grace_hopper", (1536, 1800))]
)
def test_crisp_detail_raises_laplacian_variance(name, size):
    original = photo(name, size)
    sharpened = studio.crisp_detail(original)
    assert imaging.laplacian_variance(sharpened) > 1.3 * imaging.laplacian_variance(original)


def test_crisp_detail_does_not_shift_colour():
    original = photo("coffee")
    before, after = _lab(original), _lab(studio.crisp_detail(original))
    assert abs(after[..., 1].mean() - before[..., 1].mean()) < 1.5
    assert abs(after[..., 2].mean() - before[..., 2].mean()) < 1.5


# --- soft_focus --------------------------------------------------------------------------


def test_soft_focus_smooths_skin_but_preserves_edges():
    original = photo("astronaut")
    out = studio.soft_focus(original)
    skin = _hf_ratio(original, out, LEFT_CHEEK)
    assert skin < 0.6
    assert _hf_ratio(original, out, CHIN) < 0.8
    # edge-aware: fine edges keep clearly more of their detail than flat skin
    # (a Gaussian blur removes *more* from the eyes than from the cheek)
    assert _hf_ratio(original, out, EYES) > skin + 0.1
    assert _hf_ratio(original, out, HELMET_RIM) > skin + 0.1


@pytest.mark.parametrize("name", PHOTOS)
def test_soft_focus_darkens_corners_relative_to_centre(name):
    original = photo(name)
    assert _corner_to_centre(studio.soft_focus(original)) < 0.95 * _corner_to_centre(original)


# --- all pipelines -----------------------------------------------------------------------


def test_pipelines_are_the_studio_presets_in_order():
    assert tuple(studio.PIPELINES) == STUDIO_PRESETS == ("natural", "warm_glow", "crisp_detail", "soft_focus")


@pytest.mark.parametrize("preset", STUDIO_PRESETS)
def test_each_pipeline_keeps_size_and_changes_the_photo(preset):
    for original in (photo("grace_hopper"), photo("coffee").convert("RGBA")):
        out = studio.PIPELINES[preset](original)
        assert out.mode == "RGB" and out.size == original.size
        diff = np.abs(np.asarray(out, dtype=np.int16) - np.asarray(original.convert("RGB"), dtype=np.int16))
        assert diff.mean() > 1


# --- the provider ------------------------------------------------------------------------


def test_generate_returns_four_variants_in_preset_order():
    data = photo_jpeg("astronaut", (4032, 3024))
    variants = studio.StudioProvider().generate(data, STUDIO_PRESETS)
    assert [v.index for v in variants] == [0, 1, 2, 3]
    assert [v.preset for v in variants] == list(STUDIO_PRESETS)
    base = imaging.load_for_processing(data)
    for v in variants:
        assert isinstance(v, GeneratedVariant) and v.filtered_reason is None
        assert v.image.mode == "RGB" and v.image.size == (2048, 1536)
        assert np.array_equal(np.asarray(v.image), np.asarray(studio.PIPELINES[v.preset](base)))


def test_generate_is_deterministic_down_to_the_file_bytes():
    data = photo_jpeg("grace_hopper", (2400, 2800))
    provider = studio.StudioProvider()
    runs = [
        [imaging.render_variant_files(v.image) for v in provider.generate(data, STUDIO_PRESETS)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert max(imaging.load_for_processing(data).size) == 2048


def test_generate_a_subset_and_small_originals():
    variants = studio.StudioProvider().generate(coffee_jpeg(), ["crisp_detail"])
    assert [(v.index, v.preset) for v in variants] == [(0, "crisp_detail")]
    assert variants[0].image.size == (600, 400)


def test_studio_provider_satisfies_the_protocol():
    provider = studio.StudioProvider()
    assert isinstance(provider, Provider) and provider.name == "studio"


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
