"""lashme.images (validation, originals, codec, working_copy, variant_files, measures, previews): hostile
uploads, metadata stripping, derived files."""

from __future__ import annotations

import io
import math
import struct
import warnings
import zlib

import numpy as np
import piexif
import pytest
from PIL import Image, ImageCms, ImageFile, ImageFilter, ImageOps

from lashme.errors import UploadRejected
from lashme.images import (
    codec,
    decoding,
    measures,
    originals,
    previews,
    validation,
    variant_files,
    working_copy,
)
from tests.photos import (
    astronaut_jpeg,
    coffee_jpeg,
    encode,
    jpeg_bytes,
    photo,
    photo_jpeg,
    with_gps_exif,
    with_orientation,
)

METADATA_KEYS = ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "dpi", "adobe")


def _rejected(data: bytes, **kw) -> UploadRejected:
    with pytest.raises(UploadRejected) as info:
        validation.validate_upload(data, **kw)
    return info.value


def _blank_png(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of zeros: huge header, tiny file (a decompression bomb)."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    row = bytes(1 + math.ceil(width / 8))
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _mad(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> float:
    """Mean absolute difference in grey levels."""
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())


def _assert_no_metadata(blob: bytes) -> None:
    with Image.open(io.BytesIO(blob)) as img:
        assert img.format == "JPEG"
        assert not any(key in img.info for key in METADATA_KEYS), sorted(img.info)
        assert not img.getexif()
    exif = piexif.load(blob)
    assert exif["GPS"] == {} and exif["0th"] == {} and exif["Exif"] == {}
    for marker in (b"Exif\x00\x00", b"ICC_PROFILE", b"http://ns.adobe.com/xap"):
        assert marker not in blob


def _size_of(blob: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(blob)) as img:
        return img.size


# --- rejections --------------------------------------------------------------------------


def test_empty_upload_is_rejected():
    assert _rejected(b"").key == "upload.empty"


def test_over_10_mb_is_rejected_before_decoding():
    err = _rejected(b"\xff\xd8\xff" + bytes(10 * 1024 * 1024 - 2))
    assert err.key == "upload.too_large" and err.params == {"max_mb": 10}
    assert "10 MB" in str(err)


def test_exactly_10_mb_is_not_too_large():
    assert _rejected(b"\xff\xd8\xff" + bytes(10 * 1024 * 1024 - 3)).key == "upload.not_image"


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        b"just some text pretending to be photo.jpg\n" * 20,
        b"\xff\xd8\xff\xe0" + b"JFIF but then garbage" * 50,
    ],
    ids=["html", "text", "jpeg-magic-garbage"],
)
def test_non_images_are_rejected_whatever_their_name(data):
    assert _rejected(data).key == "upload.not_image"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_rejected_as_bad_format(fmt):
    err = _rejected(encode(photo("chelsea"), fmt))
    assert err.key == "upload.bad_format" and err.params == {"format": fmt}
    assert fmt in str(err)


def test_truncated_jpeg_is_rejected():
    data = astronaut_jpeg()
    assert validation.validate_upload(data).size == (512, 512)  # the whole file is fine
    assert _rejected(data[: len(data) * 6 // 10]).key == "upload.not_image"


def test_truncated_jpeg_is_rejected_even_if_pillow_is_lenient_elsewhere(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    data = coffee_jpeg()
    assert _rejected(data[: len(data) // 2]).key == "upload.not_image"


def test_over_40_megapixels_is_rejected_from_the_header_without_decoding(monkeypatch):
    data = _blank_png(8000, 5001)  # 40.008 MP, a few kB
    assert len(data) < 100_000

    def decode_forbidden(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode_forbidden)
    err = _rejected(data)
    assert err.key == "upload.too_many_pixels" and err.params == {"max_mp": 40}


def test_pixel_limit_is_inclusive():
    data = astronaut_jpeg()  # 512 x 512 = 262144 px
    assert validation.validate_upload(data, max_pixels=262_144).size == (512, 512)
    assert _rejected(data, max_pixels=262_143).key == "upload.too_many_pixels"


def test_decompression_bomb_is_rejected_by_pillows_guard_too():
    assert Image.MAX_IMAGE_PIXELS == 2 * decoding.MAX_UPLOAD_PIXELS
    data = _blank_png(20_000, 20_000)  # 400 MP of zeros in ~60 kB
    assert len(data) < 200_000
    err = _rejected(data, max_pixels=10**12)  # even a caller's huge limit does not let it through
    assert err.key == "upload.too_many_pixels"


def test_decompression_bomb_warning_as_error_is_classified_as_too_many_pixels():
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        err = _rejected(_blank_png(9000, 9000), max_pixels=10**12)  # 81 MP: Pillow warns
    assert err.key == "upload.too_many_pixels"


def test_short_side_below_256_is_rejected():
    err = _rejected(jpeg_bytes(photo("coffee", (400, 255))))
    assert err.key == "upload.too_small" and err.params == {"min_side": 256}
    assert validation.validate_upload(jpeg_bytes(photo("coffee", (400, 256)))).size == (400, 256)


# --- accepted formats and normalisation --------------------------------------------------


def _assert_clean_rgb(img: Image.Image, size: tuple[int, int]) -> None:
    assert isinstance(img, Image.Image) and not isinstance(img, ImageFile.ImageFile)
    assert img.mode == "RGB" and img.size == size
    assert img.info == {} and not img.getexif()


def test_jpeg_is_accepted_as_a_clean_rgb_copy():
    img = validation.validate_upload(astronaut_jpeg())
    _assert_clean_rgb(img, (512, 512))
    assert _mad(img, photo("astronaut")) < 3


def test_progressive_jpeg_is_accepted():
    data = jpeg_bytes(photo("grace_hopper"), progressive=True)
    _assert_clean_rgb(validation.validate_upload(data), (512, 600))


def test_rgba_png_is_composited_on_white():
    rgba = photo("coffee").convert("RGBA")
    alpha = np.full((400, 600), 255, np.uint8)
    alpha[:, :300] = 0
    rgba.putalpha(Image.fromarray(alpha))
    img = validation.validate_upload(encode(rgba, "PNG"))
    _assert_clean_rgb(img, (600, 400))
    arr = np.asarray(img)
    assert arr[:, :300].min() == 255  # transparent half is white, not black
    assert _mad(arr[:, 300:], np.asarray(photo("coffee"))[:, 300:]) < 1


def test_palette_png_with_transparency_is_accepted():
    pal = photo("chelsea").quantize(64)
    img = validation.validate_upload(encode(pal, "PNG", transparency=0))
    _assert_clean_rgb(img, (451, 300))
    index0 = np.asarray(pal) == 0
    assert index0.any() and np.asarray(img)[index0].min() == 255


def test_16_bit_greyscale_png_is_scaled_not_clipped():
    gray = np.asarray(photo("astronaut").convert("L"))
    img = validation.validate_upload(encode(Image.fromarray(gray.astype(np.uint16) * 257), "PNG"))
    _assert_clean_rgb(img, (512, 512))
    assert _mad(np.asarray(img)[..., 1], gray) < 1


def test_cmyk_jpeg_is_converted_to_rgb():
    img = validation.validate_upload(encode(photo("coffee").convert("CMYK"), "JPEG", quality=95))
    _assert_clean_rgb(img, (600, 400))
    assert _mad(img, photo("coffee")) < 6


def test_webp_is_accepted():
    img = validation.validate_upload(encode(photo("chelsea"), "WEBP", quality=90))
    _assert_clean_rgb(img, (451, 300))
    assert _mad(img, photo("chelsea")) < 4


def test_heic_is_accepted():
    data = encode(photo("astronaut"), "HEIF", quality=90)
    with Image.open(io.BytesIO(data)) as probe:
        assert probe.format == "HEIF"
    img = validation.validate_upload(data)
    _assert_clean_rgb(img, (512, 512))
    assert _mad(img, photo("astronaut")) < 5


def test_allowed_formats():
    assert validation.ALLOWED_FORMATS == {"JPEG", "PNG", "WEBP", "HEIF"}


def test_exif_orientation_is_applied():
    data = with_orientation(coffee_jpeg(), 6)  # stored 600x400, displayed rotated 90 degrees clockwise
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.size == (600, 400) and raw.getexif()[0x0112] == 6
    img = validation.validate_upload(data)
    _assert_clean_rgb(img, (400, 600))
    assert _mad(img, photo("coffee").transpose(Image.Transpose.ROTATE_270)) < 3
    assert _mad(img, photo("coffee").transpose(Image.Transpose.ROTATE_90)) > 20


def test_gps_exif_is_gone_after_validate_and_encode():
    data = astronaut_jpeg(gps=True)
    assert piexif.load(data)["GPS"][piexif.GPSIFD.GPSLatitudeRef] == b"N"  # the test photo has GPS
    img = validation.validate_upload(data)
    _assert_clean_rgb(img, (512, 512))
    _assert_no_metadata(codec.encode_jpeg(img))
    assert with_gps_exif(coffee_jpeg()) != coffee_jpeg()


def test_icc_profile_is_dropped_after_conversion():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = jpeg_bytes(photo("coffee"), icc_profile=srgb)
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.info.get("icc_profile")
    img = validation.validate_upload(data)
    _assert_clean_rgb(img, (600, 400))
    assert _mad(img, photo("coffee")) < 3
    _assert_no_metadata(codec.encode_jpeg(img))


def test_encode_jpeg_never_writes_metadata_from_info():
    img = photo("chelsea")
    img.info.update(
        exif=piexif.dump(piexif.load(with_gps_exif(coffee_jpeg()))),
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
        comment=b"secret comment",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>",
    )
    blob = codec.encode_jpeg(img)
    _assert_no_metadata(blob)
    assert b"secret comment" not in blob


def test_encode_jpeg_flattens_rgba_and_honours_quality():
    rgba = photo("astronaut").convert("RGBA")
    rgba.putalpha(0)
    blob = codec.encode_jpeg(rgba)
    with Image.open(io.BytesIO(blob)) as img:
        assert img.mode == "RGB" and np.asarray(img).min() >= 250
    opaque = photo("astronaut")
    assert len(codec.encode_jpeg(opaque, quality=95)) > len(codec.encode_jpeg(opaque, quality=60))


# --- processing size and derived files ----------------------------------------------------


def test_load_for_processing_downscales_a_12_mp_jpeg_to_2048():
    img = working_copy.load_for_processing(photo_jpeg("astronaut", (4032, 3024)))
    assert img.mode == "RGB" and img.size == (2048, 1536) and img.info == {}


def test_load_for_processing_keeps_quality_of_a_full_decode():
    data = photo_jpeg("coffee", (4032, 3024))
    with Image.open(io.BytesIO(data)) as full:
        reference = full.convert("RGB").resize((2048, 1536), Image.Resampling.LANCZOS)
    fast = working_copy.load_for_processing(data)
    assert _mad(fast, reference) < 1.5


def test_load_for_processing_portrait_small_and_png():
    assert working_copy.load_for_processing(photo_jpeg("grace_hopper", (3024, 4032))).size == (1536, 2048)
    assert working_copy.load_for_processing(coffee_jpeg()).size == (600, 400)  # never upscaled
    png = working_copy.load_for_processing(encode(photo("chelsea", (2600, 1729)), "PNG"), max_side=1000)
    assert png.size == (1000, 665) and png.mode == "RGB"


def test_render_variant_files_are_only_watermarked_low_res_files():
    img = photo("astronaut", (2048, 1536))
    files = variant_files.render_variant_files(img)
    assert set(files) == {"preview", "thumb"}  # no clean full-size file or crop before an unlock
    assert _size_of(files["preview"]) == (480, 360)
    assert _size_of(files["thumb"]) == (320, 240)
    for kind, blob in files.items():
        _assert_no_metadata(blob)
        served = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"), dtype=np.int16)
        clean = np.asarray(previews.make_thumbnail(img, max_side=max(served.shape[:2])), dtype=np.int16)
        marked = np.abs(served - clean).max(axis=2) > 40
        assert marked.mean() > 0.03, kind  # the tiled watermark, not JPEG noise
        half = served.shape[0] // 2
        assert marked[:half].mean() > 0.01 and marked[half:].mean() > 0.01, kind


def test_render_variant_files_portrait_and_small():
    portrait = variant_files.render_variant_files(photo("grace_hopper", (1536, 2048)))
    assert _size_of(portrait["preview"]) == (360, 480) and _size_of(portrait["thumb"]) == (240, 320)
    small = variant_files.render_variant_files(photo("chelsea"))
    assert _size_of(small["preview"]) == (451, 300) and _size_of(small["thumb"]) == (320, 213)


def test_render_unlocked_files_full_size_crops_and_clean_previews():
    img = np.array(photo("coffee", (3000, 2000)))
    files = variant_files.render_unlocked_files(img.copy())
    assert files.size == (3000, 2000) and _size_of(files["full"]) == (3000, 2000)
    assert files.crops == {
        "4x5": {"width": 1080, "height": 1350, "too_small": False},
        "1x1": {"width": 1080, "height": 1080, "too_small": False},
        "9x16": {"width": 1080, "height": 1920, "too_small": False},
    }
    for blob in files.values():
        _assert_no_metadata(blob)
    full = np.asarray(Image.open(io.BytesIO(files["full"])), dtype=np.int16)
    assert _mad(full, img) < 2  # the image itself, no watermark
    assert _size_of(files["clean_preview"]) == (480, 320) and _size_of(files["clean_thumb"]) == (320, 213)


def test_crop_4x5_is_a_centred_cover_crop():
    img = photo("astronaut", (2048, 1536))
    out = previews.crop_4x5(img)
    assert out.size == (1080, 1350) and out.mode == "RGB"
    crop_w = round(1536 * 4 / 5)
    x0 = (2048 - crop_w) // 2
    reference = img.crop((x0, 0, x0 + crop_w, 1536)).resize((1080, 1350), Image.Resampling.LANCZOS)
    assert _mad(out, reference) < 2
    shifted = img.crop((0, 0, crop_w, 1536)).resize((1080, 1350), Image.Resampling.LANCZOS)
    assert _mad(out, shifted) > 10


def test_crop_4x5_of_portrait_and_small_images():
    assert previews.crop_4x5(photo("grace_hopper", (1536, 2048))).size == (1080, 1350)
    assert previews.crop_4x5(photo("chelsea")).size == (1080, 1350)  # upscaled
    assert previews.crop_4x5(photo("coffee"), size=(200, 100)).size == (200, 100)


def test_preview_is_small_and_visibly_watermarked():
    img = photo("astronaut", (2048, 1536))
    marked = np.asarray(previews.make_preview(img), dtype=np.int16)
    plain = np.asarray(previews.make_preview(img, watermark=""), dtype=np.int16)
    assert marked.shape == plain.shape == (360, 480, 3)
    changed = np.abs(marked - plain).max(axis=2) > 24
    assert changed.mean() > 0.05
    for quadrant in (changed[:180, :240], changed[:180, 240:], changed[180:, :240], changed[180:, 240:]):
        assert quadrant.mean() > 0.02  # tiled over the whole image, not one corner logo
    assert _mad(plain, img.resize((480, 360), Image.Resampling.LANCZOS)) < 2


def test_preview_and_thumbnail_never_upscale():
    small = photo("chelsea")
    assert previews.make_preview(small).size == (451, 300)
    assert previews.make_thumbnail(small).size == (320, 213)
    assert previews.make_thumbnail(small, max_side=500).size == (451, 300)
    assert previews.make_thumbnail(photo("grace_hopper", (1536, 2048))).size == (240, 320)


def test_measurement_helpers():
    img = photo("coffee")
    arr = np.asarray(img)
    assert measures.mean_rgb(img) == pytest.approx(tuple(arr.reshape(-1, 3).mean(axis=0)))
    assert measures.mean_rgb(arr) == measures.mean_rgb(img)
    blurred = img.filter(ImageFilter.GaussianBlur(2))
    assert measures.laplacian_variance(blurred) < 0.5 * measures.laplacian_variance(img)
    assert measures.laplacian_variance(ImageOps.grayscale(img)) > 0


# --- the stored original (prepare_original) ------------------------------------------------


def test_prepare_original_keeps_a_clean_jpegs_pixels_and_drops_every_metadata_segment():
    data = with_gps_exif(jpeg_bytes(photo("coffee", (1200, 800)), comment=b"shot at home"))
    original = originals.prepare_original(data)
    assert original.lossless and (original.width, original.height) == (1200, 800)
    _assert_no_metadata(original.data)
    assert b"shot at home" not in original.data and b"LashMeTestCam" not in original.data
    with Image.open(io.BytesIO(data)) as a, Image.open(io.BytesIO(original.data)) as b:
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))  # untouched


def test_prepare_original_re_encodes_what_needs_pixel_changes():
    rotated = originals.prepare_original(with_orientation(coffee_jpeg(), 6))
    assert not rotated.lossless and (rotated.width, rotated.height) == (400, 600)
    assert _size_of(rotated.data) == (400, 600)
    _assert_no_metadata(rotated.data)
    png = originals.prepare_original(encode(photo("coffee"), "PNG"))
    assert not png.lossless and _size_of(png.data) == (600, 400)
    _assert_no_metadata(png.data)


def test_prepare_original_rejects_what_validate_upload_rejects():
    data = coffee_jpeg()
    for bad, key in (
        (data[: len(data) // 2], "upload.not_image"),
        (data[: len(data) - 2], "upload.not_image"),  # the end-of-image marker is missing
        (jpeg_bytes(photo("coffee", (300, 200))), "upload.too_small"),
        (b"", "upload.empty"),
    ):
        with pytest.raises(UploadRejected) as info:
            originals.prepare_original(bad)
        assert info.value.key == key
    with pytest.raises(UploadRejected) as info:
        originals.prepare_original(data, max_pixels=100_000)
    assert info.value.key == "upload.too_many_pixels"


@pytest.mark.parametrize("size", [(480, 360), (360, 480), (480, 480), (480, 270), (320, 213)])
def test_the_watermark_covers_previews_of_every_aspect(size):
    img = Image.new("RGB", size, (200, 150, 150))
    marked = np.abs(np.asarray(previews.apply_watermark(img), np.int16) - np.asarray(img, np.int16)).max(
        axis=2
    )
    assert marked.shape == (size[1], size[0])
    for half in (
        marked[: size[1] // 2],
        marked[size[1] // 2 :],
        marked[:, : size[0] // 2],
        marked[:, size[0] // 2 :],
    ):
        assert (half > 40).mean() > 0.03  # text in every half, not only in the middle
