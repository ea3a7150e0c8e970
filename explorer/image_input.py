"""Reading users' images: whatever Pillow opens, made into an RGB square of the size a model needs.

Handles EXIF rotation, alpha (composited on white), palette, grayscale, CMYK, CIELab, 16/32-bit and float
images, and embedded ICC colour profiles (converted to sRGB: print CMYK, Adobe RGB and Display P3 photos
otherwise come out with wrong colours); refuses truncated, non-image and absurdly large files with a
one-line ImageInputError.
"""
from __future__ import annotations

import io
import os
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from .errors import ImageInputError
from .io.files import open_regular

MAX_PIXELS = 200_000_000  # about 14k x 14k; beyond this a photo is almost surely a decompression bomb


def open_rgb(path: "str | os.PathLike[str]") -> Image.Image:
    """Open any image as 8-bit RGB, upright, with transparency composited on white."""
    with open_regular(path, ImageInputError, "an image file") as f:   # no FIFO, device or loop reaches Pillow
        return _decode_rgb(f, path)


def _decode_rgb(f: BinaryIO, path: "str | os.PathLike[str]") -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ImageInputError(path, f"image is too large ({im.width}x{im.height} pixels)")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_rgb(im)
    except ImageInputError:
        raise
    except UnidentifiedImageError:
        empty = os.fstat(f.fileno()).st_size == 0
        raise ImageInputError(path, "empty file" if empty else "not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(path, "image is too large (decompression bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as e:
        msg = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        what = "truncated or corrupt image" if "truncated" in msg.lower() or "broken" in msg.lower() else f"cannot decode image ({msg})"
        raise ImageInputError(path, what) from None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or 255 < a.max() <= 65535 else max(float(a.max()), 255.0)
        im = Image.fromarray(np.clip(a / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    im = _to_srgb(im)
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode in ("RGB", "L") and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert("RGB")


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(im: Image.Image) -> Image.Image:
    """Colour-manage through the embedded ICC profile (or the CIELab one for LAB images) into sRGB.

    Alpha is set aside and put back; a profile LittleCMS cannot use is ignored (Pillow's plain
    conversion is still a recognisable picture).
    """
    icc = im.info.get("icc_profile")
    if icc and im.mode in ("RGB", "L") and "transparency" in im.info:
        im = im.convert("RGBA")  # a colour-key transparency would not survive the conversion
    if im.mode == "LAB":
        source = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
    elif icc and im.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        except (OSError, ImageCms.PyCMSError):
            return im
    else:
        return im
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
    base = im.convert(im.mode[:-1]) if alpha is not None else im
    try:
        rgb = ImageCms.profileToProfile(base, source, _SRGB, outputMode="RGB")
    except (OSError, ValueError, ImageCms.PyCMSError):
        return im
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


def center_crop_resize(im: Image.Image, size: int) -> Image.Image:
    """Largest centred square, resized with Lanczos (what NVlabs' projector does to its target)."""
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return im.resize((size, size), Image.LANCZOS) if s != size else im


def load_square(path: "str | os.PathLike[str]", size: int) -> np.ndarray:
    """HxWx3 uint8 of the image, centre-cropped and resized to size x size."""
    return np.asarray(center_crop_resize(open_rgb(path), size), dtype=np.uint8)
