"""Upload validation, decoding and JPEG encoding of LashMe photos.

Plain Python (Pillow + pillow-heif + numpy + OpenCV), no Reflex import.

Every upload is treated as hostile: :func:`validate_upload` judges the bytes
only (never the file name or the declared MIME type), checks the pixel count
from the header before any pixel is decoded, and returns a clean RGB image
with all metadata (EXIF incl. GPS, ICC, XMP, comments) dropped.  Outputs are
written by :func:`encode_jpeg`, which never writes metadata.

Importing this module registers the HEIF/HEIC opener and sets Pillow's
process-wide decompression-bomb guard ``PIL.Image.MAX_IMAGE_PIXELS`` to twice
the upload pixel cap.

The resizing, crop, preview and thumbnail helpers live in
:mod:`lashme.images.previews` and are re-exported here.

Full resolution (:mod:`lashme.jobs.fullres`): :func:`decode_rgb_array`,
:func:`apply_edit_at_full_size` and :func:`render_unlocked_files` work on one
full-size ``uint8`` array, in place and strip by strip, so a 12 MP render needs
about one copy of the image (36 MB) plus a few MB of strips.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from dataclasses import dataclass

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps

from lashme.errors import UploadRejected
from lashme.images.previews import (
    CROP_SIZES,
    INSTA_SIZE,
    PREVIEW_MAX_SIDE,
    THUMB_MAX_SIDE,
    apply_watermark,
    crop_4x5,
    crop_4x5_array,  # noqa: F401 - re-exported
    crop_aspect_array,
    fit_size,
    make_preview,
    make_thumbnail,
    make_watermarked_thumbnail,
    resize_array,
)

__all__ = [
    "ALLOWED_FORMATS",
    "Original",
    "CROP_SIZES",
    "INSTA_SIZE",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_PIXELS",
    "MIN_UPLOAD_SIDE",
    "FULLRES_WORKING_SIDE",
    "PREVIEW_MAX_SIDE",
    "PREVIEW_WORKING_SIDE",
    "PROCESSING_MAX_SIDE",
    "THUMB_MAX_SIDE",
    "UnlockedFiles",
    "apply_edit_at_full_size",
    "crop_4x5",
    "crop_aspect_array",
    "decode_rgb_array",
    "encode_jpeg",
    "encode_jpeg_array",
    "laplacian_variance",
    "load_for_processing",
    "make_preview",
    "make_thumbnail",
    "mean_rgb",
    "make_watermarked_thumbnail",
    "render_unlocked_files",
    "render_variant_files",
    "prepare_original",
    "validate_upload",
]

pillow_heif.register_heif_opener()

#: Pillow format names accepted for uploads (pillow-heif reports HEIC as "HEIF").
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
MIN_UPLOAD_SIDE = 256
PROCESSING_MAX_SIDE = 2048
#: long side of the working copy generation renders the previews from (they are <= 480 px):
#: 1/7 of the pixels of 2048 px, so previews come sooner and the worker needs less memory.  768 px
#: (half of :data:`FULLRES_WORKING_SIDE`) gives previews closer to the unlocked render than 1024 px
#: did (mean CIELAB dE 0.4-1.3 against the 1536 px working copy's, vs 0.6-1.8, 5 photos; issue 18).
PREVIEW_WORKING_SIDE = 768
#: long side of the working copy a full-resolution studio render starts from
#: (see :func:`apply_edit_at_full_size`); larger costs memory in the studio engine.
FULLRES_WORKING_SIDE = 1536

# Pillow warns above this many pixels and raises DecompressionBombError above twice it.
Image.MAX_IMAGE_PIXELS = 2 * MAX_UPLOAD_PIXELS

_FORMAT_ALIASES = {"MPO": "JPEG"}  # multi-picture JPEGs from phones/cameras are JPEGs
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# load_for_processing may DCT-downscale a JPEG to at most this fraction below the
# target long side and upscale the rest (e.g. 4032 px -> 2016 px decode -> 2048 px).
_DRAFT_SLACK = 0.02
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def validate_upload(
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
    min_side: int = MIN_UPLOAD_SIDE,
) -> Image.Image:
    """Check an uploaded file's content and decode it to a clean RGB image.

    Checks, in order: not empty; at most ``max_bytes``; Pillow can identify it;
    its format is in :data:`ALLOWED_FORMATS`; ``width * height <= max_pixels``
    (read from the header, before any pixel is decoded); short side at least
    ``min_side``; the whole image decodes (truncated files fail).  Then the EXIF
    orientation is applied, an embedded ICC profile is converted to sRGB,
    transparency is composited on white, 16-bit/CMYK/grey/palette become 8-bit
    RGB, and all metadata is dropped.

    Args:
        data: the uploaded bytes.
        max_bytes: size limit in bytes (default 10 MiB).
        max_pixels: pixel-count limit (default 40 MP).
        min_side: smallest allowed short side in pixels (default 256).

    Returns:
        A new full-size ``RGB`` image with empty ``info`` (no EXIF, ICC or XMP).

    Raises:
        UploadRejected: ``upload.empty``; ``upload.too_large`` (``max_mb``);
            ``upload.not_image`` (unreadable, truncated or corrupt);
            ``upload.bad_format`` (``format``, e.g. ``"GIF"``);
            ``upload.too_many_pixels`` (``max_mp``; also Pillow's bomb guard);
            ``upload.too_small`` (``min_side``).
    """
    if not data:
        raise UploadRejected("upload.empty")
    if len(data) > max_bytes:
        raise UploadRejected("upload.too_large", max_mb=_round(max_bytes / 2**20))
    try:
        img = Image.open(io.BytesIO(data))
    except _BOMB_ERRORS:
        raise _too_many_pixels(max_pixels) from None
    except Exception:
        raise UploadRejected("upload.not_image") from None
    with img:
        fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "unknown")
        if fmt not in ALLOWED_FORMATS:
            raise UploadRejected("upload.bad_format", format=fmt)
        width, height = img.size
        if width * height > max_pixels:
            raise _too_many_pixels(max_pixels)
        if min(width, height) < min_side:
            raise UploadRejected("upload.too_small", min_side=min_side)
        try:
            img.load()
            return _clean_rgb(img)
        except _BOMB_ERRORS:
            raise _too_many_pixels(max_pixels) from None
        except Exception:
            raise UploadRejected("upload.not_image") from None


@dataclass(frozen=True)
class Original:
    """The bytes to store as a job's original and their size (see :func:`prepare_original`).

    Attributes:
        data: a JPEG without any metadata, at the upload's full resolution.
        width: pixels.
        height: pixels.
        lossless: the upload's own JPEG data with its metadata segments dropped (pixels
            untouched); False when it was decoded and re-encoded.
    """

    data: bytes
    width: int
    height: int
    lossless: bool


def prepare_original(
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
    min_side: int = MIN_UPLOAD_SIDE,
    quality: int = 95,
) -> Original:
    """Validate an upload like :func:`validate_upload` and return the metadata-free JPEG to store.

    Fast path: a Huffman-coded (baseline or progressive) 8-bit YCbCr JPEG that needs no pixel
    change (no EXIF orientation other than 1, no ICC profile other than sRGB, no Adobe colour
    transform marker) keeps its own compressed data: the APPn (EXIF incl. GPS, XMP, ICC, MPF)
    and COM segments and anything after the end-of-image marker are dropped, nothing is
    decoded and re-encoded, and the stripped file is validated by a DCT-scaled 1/8 decode, which
    still reads every entropy-coded byte (a truncated or corrupt file fails as before) at a
    fraction of a full decode's cost (~15 ms instead of ~90 ms + ~50 ms re-encoding for 12 MP).
    Everything else goes through :func:`validate_upload` and :func:`encode_jpeg`.

    Args:
        data: the uploaded bytes, untrusted.
        max_bytes: size limit in bytes.
        max_pixels: pixel-count limit.
        min_side: smallest allowed short side in pixels.
        quality: JPEG quality of a re-encoded original.

    Returns:
        The :class:`Original` (full resolution, no metadata).

    Raises:
        UploadRejected: as :func:`validate_upload`.
    """
    if data and len(data) <= max_bytes:
        stripped = _lossless_original(data, max_pixels=max_pixels, min_side=min_side)
        if stripped is not None:
            return stripped
    img = validate_upload(data, max_bytes=max_bytes, max_pixels=max_pixels, min_side=min_side)
    return Original(encode_jpeg(img, quality=quality), img.width, img.height, lossless=False)


_SOF_LOSSLESS_OK = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended and progressive Huffman
_SOF_ANY = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_KEEP_SEGMENTS = frozenset({0xC4, 0xDB, 0xDD, 0xDA})  # DHT, DQT, DRI, SOS
_DROP_SEGMENTS = frozenset(range(0xE0, 0xF0)) | {0xFE}  # APP0-15, COM
# end of an entropy-coded segment: 0xFF (plus fill bytes) followed by anything but a stuffed 0x00
# or a restart marker
_NEXT_MARKER = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")


def _lossless_original(data: bytes, *, max_pixels: int, min_side: int) -> Original | None:
    """The fast path of :func:`prepare_original`; None when the upload does not qualify.

    Raises:
        UploadRejected: the header or the pixel data is unacceptable.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, mode, (width, height), info = img.format, img.mode, img.size, img.info
            orientation = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - validate_upload gives the precise reason
        return None
    if fmt not in ("JPEG", "MPO") or mode != "RGB" or "adobe" in info or orientation not in (1, None):
        return None
    if width * height > max_pixels or min(width, height) < min_side:
        return None  # validate_upload rejects it with the right message
    icc = info.get("icc_profile")
    if icc and not _is_srgb(icc):
        return None
    stripped = _strip_jpeg(data)
    if stripped is None:
        return None
    try:
        with Image.open(io.BytesIO(stripped)) as img:
            if img.size != (width, height) or img.mode != "RGB":
                return None
            img.draft("RGB", (max(1, math.ceil(width / 8)), max(1, math.ceil(height / 8))))
            img.load()  # entropy-decodes every scan: truncated or corrupt data raises
    except _BOMB_ERRORS:
        raise _too_many_pixels(max_pixels) from None
    except Exception:
        raise UploadRejected("upload.not_image") from None
    return Original(stripped, width, height, lossless=True)


def _is_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" in ImageCms.getProfileDescription(profile).lower()
    except Exception:  # noqa: BLE001 - an unreadable profile: take the decoding path
        return False


def _strip_jpeg(data: bytes) -> bytes | None:
    """``data`` (a JPEG) with only the segments a decoder needs, up to the first EOI; None if unusual.

    Keeps SOI, one SOF0/1/2 frame (8-bit, 3 components), DQT, DHT, DRI, the scans and EOI; drops
    APPn and COM segments and whatever follows EOI.  Any other marker, a second frame or a
    malformed segment returns None (the caller decodes and re-encodes instead).
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    i, n, frames = 2, len(data), 0
    while i < n:
        if data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker == 0xD9:  # EOI
            out.append(b"\xff\xd9")
            return b"".join(out) if frames == 1 else None
        if i + 2 > n:
            return None
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2 or i + length > n:
            return None
        if marker in _SOF_ANY:
            frames += 1
            if marker not in _SOF_LOSSLESS_OK or frames > 1 or length < 8:
                return None
            if data[i + 2] != 8 or data[i + 7] != 3:  # sample precision, number of components
                return None
        elif marker in _DROP_SEGMENTS:
            i += length
            continue
        elif marker not in _KEEP_SEGMENTS:
            return None
        out.append(b"\xff" + bytes((marker,)) + data[i : i + length])
        i += length
        if marker == 0xDA:  # the scan's entropy-coded data runs to the next real marker
            m = _NEXT_MARKER.search(data, i)
            if m is None:
                return None  # no end of image: truncated
            out.append(data[i : m.start()])
            i = m.start()
    return None


def encode_jpeg(img: Image.Image, *, quality: int = 90) -> bytes:
    """Encode ``img`` as a baseline sRGB JPEG without any metadata.

    No EXIF, ICC, XMP or comment is written, whatever ``img.info`` holds;
    chroma is 4:2:0 and Huffman optimisation is off (it costs ~2x encode time
    for ~5 % size).  Transparency is composited on white.

    Args:
        img: image in any mode Pillow can convert to RGB.
        quality: libjpeg quality, 1-95.

    Returns:
        The JPEG file bytes.
    """
    rgb = img if img.mode == "RGB" else _flatten_rgb(img)
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=quality, optimize=False, progressive=False, exif=b"", comment=b"")
    return buf.getvalue()


def load_for_processing(data: bytes, *, max_side: int = PROCESSING_MAX_SIDE) -> Image.Image:
    """Decode a stored original and downscale it for the enhancement pipelines.

    For JPEGs at least about twice ``max_side`` the decoder's DCT-domain
    scaling (``Image.draft``) does most of the reduction for a fraction of the
    cost; the result is then resized with :func:`lashme.images.previews.resize_array`
    so the long side is exactly ``min(max_side, original long side)``.  When
    the DCT scale lands up to 2 % short of the target (4032 px -> 2016 px), the
    last step is a small bicubic upscale.

    Args:
        data: image bytes, normally a JPEG written by :func:`encode_jpeg`.
        max_side: long-side limit in pixels.

    Returns:
        A new RGB image without metadata.

    Raises:
        PIL.UnidentifiedImageError: ``data`` is not an image.
        OSError: the file is truncated or corrupt.
        PIL.Image.DecompressionBombError: above Pillow's pixel guard.
    """
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        target_long = min(max_side, max(width, height))
        if img.format in ("JPEG", "MPO") and max(width, height) > max_side:
            scale = (1 - _DRAFT_SLACK) * max_side / max(width, height)
            img.draft("RGB", (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
        img.load()
        arr = np.asarray(_clean_rgb(img, fresh=False))  # a copy of the pixels, no metadata
    height, width = arr.shape[:2]
    scale = target_long / max(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Image.fromarray(arr if target == (width, height) else resize_array(arr, target))


def render_variant_files(img: Image.Image) -> dict[str, bytes]:
    """Render the files of one variant that anyone who may see the job can be given.

    Both are low-resolution and watermarked: nothing made here shows clean
    pixels (those are made on unlock by :func:`render_unlocked_files`).

    Args:
        img: the variant image (any size; normally the 2048 px working copy's result).

    Returns:
        JPEG bytes, none with metadata, under the keys ``"preview"`` (watermarked,
        long side <= 480, quality 80) and ``"thumb"`` (watermarked, long side
        <= 320, quality 80).
    """
    arr = np.asarray(img if img.mode == "RGB" else _flatten_rgb(img))
    small = resize_array(arr, fit_size((arr.shape[1], arr.shape[0]), PREVIEW_MAX_SIDE))
    thumb = resize_array(small, fit_size((small.shape[1], small.shape[0]), THUMB_MAX_SIDE))
    return {
        "preview": encode_jpeg(apply_watermark(Image.fromarray(small)), quality=80),
        "thumb": encode_jpeg(apply_watermark(Image.fromarray(thumb)), quality=80),
    }


def decode_rgb_array(data: bytes) -> np.ndarray:
    """Decode a stored JPEG/PNG/WebP (an original or a provider output we wrote) at full size.

    OpenCV's decoder writes straight into one ``uint8`` array (no Pillow
    32-bit intermediate), converted to RGB in place; EXIF orientation is
    ignored (stored files have none: :func:`encode_jpeg` writes no metadata).
    Falls back to Pillow for formats OpenCV cannot read.

    Args:
        data: image bytes written by this application.

    Returns:
        A writable C-contiguous ``(H, W, 3)`` ``uint8`` RGB array.

    Raises:
        ValueError: the bytes cannot be decoded.
    """
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return np.array(_clean_rgb(img, fresh=False))
        except Exception as exc:
            raise ValueError(f"cannot decode image: {exc!r}") from exc
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB, dst=arr)


def encode_jpeg_array(arr: np.ndarray, *, quality: int = 92, consume: bool = False) -> bytes:
    """Encode an RGB array as a baseline 4:2:0 JPEG without metadata (OpenCV's encoder).

    Args:
        arr: ``(H, W, 3)`` ``uint8`` RGB.
        quality: libjpeg quality, 1-100.
        consume: convert ``arr`` to BGR in place instead of copying it (saves one
            image-sized buffer; ``arr`` is garbage afterwards).

    Returns:
        The JPEG file bytes (JFIF header only: no EXIF, ICC or comment).

    Raises:
        ValueError: the encoder failed.
    """
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR, dst=arr if consume else None)
    ok, buf = cv2.imencode(
        ".jpg",
        bgr,
        [
            cv2.IMWRITE_JPEG_QUALITY,
            quality,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
        ],
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


_STRIP_ROWS = 128  # rows of the full-size image processed at once by apply_edit_at_full_size
_DETAIL_SIGMA = 1.0  # px at working size: the band whose energy ratio says how an edit changed detail
_ENERGY_SIGMA = 3.0  # px at working size: neighbourhood of that energy estimate
_DETAIL_EPS = 4.0  # (grey levels)^2: flat areas keep gain ~1
_GAIN_LIMITS = (0.0, 2.5)


def apply_edit_at_full_size(full: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Carry an edit made on a downscaled copy over to the full-size image, in place.

    ``after`` is an enhancement of ``before`` (a downscaled copy of ``full``,
    e.g. the 2048 px working copy and a studio preset's result on it).  The
    result is ``up(after) + g * (full - up(before))``: the edited image
    upsampled (bilinear), plus the detail only the full-size image has,
    scaled by a local detail gain ``g`` measured on the small pair: the ratio
    of high-pass (sigma 1 px) luma energy of ``after`` to ``before`` in a
    sigma-3 px neighbourhood, clipped to [0, 2.5].  So tone and colour changes
    carry over exactly at the working resolution, sharpening raises and
    smoothing lowers the full-size detail where the preset did, and an
    identity edit returns ``full`` unchanged.  This is the detail-transfer idea
    of flash/no-flash photography (Petschnigg et al., SIGGRAPH 2004) with the
    upsampling of joint bilateral upsampling (Kopf et al., SIGGRAPH 2007)
    reduced to a bilinear grid.

    Works in strips of 128 rows (float32 temporaries of a few MB) and writes
    into ``full``, so memory stays at about one full-size image.

    Args:
        full: ``(H, W, 3)`` ``uint8`` RGB at full size; overwritten with the result.
        before: ``(h, w, 3)`` ``uint8``: ``full`` downscaled (h <= H, w <= W).
        after: ``(h, w, 3)`` ``uint8``: the edit of ``before``, same shape.

    Returns:
        ``full`` (the same array, edited).

    Raises:
        ValueError: ``before`` and ``after`` differ in shape.
    """
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} differ")
    height, width = full.shape[:2]
    h, w = before.shape[:2]
    if (h, w) == (height, width):
        full[...] = after
        return full
    gain = _detail_gain(before, after)
    # out = up(after) + g (full - up(before)) ~= g full + up(after - g before), g being smooth:
    # one 3-channel and one 1-channel bilinear upsampling per strip
    offset = after.astype(np.float32) - before.astype(np.float32) * gain[..., None]
    sx, sy = w / width, h / height
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for y0 in range(0, height, _STRIP_ROWS):
        y1 = min(height, y0 + _STRIP_ROWS)
        # dst (x, y) -> src ((x + 0.5) sx - 0.5, (y0 + y + 0.5) sy - 0.5): cv2.resize's pixel centres
        m = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, (y0 + 0.5) * sy - 0.5]], dtype=np.float64)
        size = (width, y1 - y0)
        up_offset = cv2.warpAffine(offset, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        g = cv2.warpAffine(gain, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        strip = full[y0:y1]
        out = cv2.multiply(strip, cv2.merge((g, g, g)), dtype=cv2.CV_32F)
        cv2.add(out, up_offset, dst=out)
        cv2.add(out, 0.5, dst=out)
        strip[...] = np.clip(out, 0, 255, out=out)  # truncation after +0.5: rounding
    return full


def _detail_gain(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``(h, w)`` float32 local ratio of high-pass luma amplitude, ``after`` over ``before``."""

    def energy(rgb: np.ndarray) -> np.ndarray:
        luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        high = luma - cv2.GaussianBlur(luma, (0, 0), _DETAIL_SIGMA)
        return cv2.GaussianBlur(high * high, (0, 0), _ENERGY_SIGMA)

    ratio = (energy(after) + _DETAIL_EPS) / (energy(before) + _DETAIL_EPS)
    return np.clip(np.sqrt(ratio), *_GAIN_LIMITS).astype(np.float32)


class UnlockedFiles(dict):
    """The clean files of an unlocked variant (see :func:`render_unlocked_files`).

    A dict of kind -> JPEG bytes (``full``, ``clean_preview``, ``clean_thumb``,
    ``crop-4x5``, ``crop-1x1``, ``crop-9x16``) with two more attributes.

    Attributes:
        size: ``(width, height)`` of ``full``.
        crops: crop name -> ``{"width", "height", "too_small"}``.
    """

    size: tuple[int, int]
    crops: dict[str, dict]


def render_unlocked_files(full: np.ndarray, *, consume: bool = False) -> UnlockedFiles:
    """Render the clean files of an unlocked variant from its full-size image.

    Crops (:data:`CROP_SIZES`) are cut from ``full`` and never upscaled
    (:func:`lashme.images.previews.crop_aspect_array`): a crop the source is
    too small for keeps its native size and is flagged ``too_small``.  The
    clean preview (<= 480 px) and thumbnail (<= 320 px) carry no watermark:
    they are for the owner who unlocked the variant.  The full image is
    encoded last (quality 92), in place when ``consume``.

    Args:
        full: ``(H, W, 3)`` ``uint8`` RGB, the variant at full size.
        consume: let the encoder reuse ``full``'s memory (it is garbage afterwards).

    Returns:
        The files, JPEG bytes without metadata.
    """
    out = UnlockedFiles()
    out.size = (full.shape[1], full.shape[0])
    out.crops = {}
    for name, size in CROP_SIZES.items():
        crop, too_small = crop_aspect_array(full, size)
        out[f"crop-{name}"] = encode_jpeg_array(crop, quality=90)  # crop may be a view of full
        out.crops[name] = {"width": crop.shape[1], "height": crop.shape[0], "too_small": too_small}
        del crop
    small = resize_array(full, fit_size(out.size, PREVIEW_MAX_SIDE))
    thumb = resize_array(small, fit_size((small.shape[1], small.shape[0]), THUMB_MAX_SIDE))
    out["clean_preview"] = encode_jpeg_array(small, quality=85)
    out["clean_thumb"] = encode_jpeg_array(thumb, quality=85)
    out["full"] = encode_jpeg_array(full, quality=92, consume=consume)
    return out


def laplacian_variance(img: Image.Image | np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the grey image: a sharpness / high-frequency measure.

    Args:
        img: RGB image or ``(H, W, 3)`` ``uint8`` array.

    Returns:
        The variance, in squared grey levels (0-255 scale).
    """
    gray = cv2.cvtColor(_rgb_array(img), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def mean_rgb(img: Image.Image | np.ndarray) -> tuple[float, float, float]:
    """Mean of each channel.

    Args:
        img: RGB image or ``(H, W, 3)`` ``uint8`` array.

    Returns:
        ``(R, G, B)`` means on the 0-255 scale.
    """
    r, g, b = _rgb_array(img).reshape(-1, 3).mean(axis=0, dtype=np.float64)
    return float(r), float(g), float(b)


def _clean_rgb(img: Image.Image, *, fresh: bool = True) -> Image.Image:
    """Oriented, sRGB, 8-bit RGB version of a loaded image, with ``info`` emptied.

    With ``fresh=False`` an already-RGB, unrotated, profile-less ``img`` is
    returned as is (orientation is applied in place), saving a full-size copy.
    """
    icc = img.info.get("icc_profile")
    with contextlib.suppress(Exception):  # malformed EXIF must not reject a decodable photo
        ImageOps.exif_transpose(img, in_place=True)
    out = _flatten_rgb(img) if img.mode != "CMYK" else img
    if icc:
        out = _to_srgb(out, icc)
    if out.mode != "RGB":
        out = out.convert("RGB")
    if out is img:
        if not fresh:
            return img
        out = img.copy()  # a new object: drops the file handle and the cached EXIF
    out.info = {}
    return out


def _flatten_rgb(img: Image.Image) -> Image.Image:
    """RGB image: alpha composited on white, 16-bit scaled to 8-bit, other modes converted."""
    if img.mode in _SIXTEEN_BIT_MODES or img.mode == "F":
        arr = np.asarray(img, dtype=np.float32) / (1.0 if img.mode == "F" else 257.0)
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGB", img.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return img if img.mode == "RGB" else img.convert("RGB")


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    """Convert ``img`` (RGB or CMYK) from its embedded ICC profile to sRGB; unchanged on failure."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return img
        return ImageCms.profileToProfile(img, profile, _SRGB, outputMode="RGB") or img
    except Exception:  # unknown or mismatched profile: keep the pixels as they are
        return img


def _too_many_pixels(max_pixels: int) -> UploadRejected:
    return UploadRejected("upload.too_many_pixels", max_mp=_round(max_pixels / 1e6))


def _round(value: float) -> int | float:
    """``10.0 -> 10``, ``7.5 -> 7.5`` for user-facing limits."""
    return int(value) if float(value).is_integer() else round(value, 1)


def _rgb_array(img: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(img, np.ndarray):
        return img
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
