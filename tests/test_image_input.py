"""Users' images of every kind Pillow reads become upright sRGB squares; broken files give one-line errors.

Every case is a real file written to disk (by Pillow, or byte by byte where Pillow cannot write it).
"""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from explorer.errors import ImageInputError
from explorer.image_input import center_crop_resize, load_square, open_rgb


def rgb_at(path, xy=(0, 0)) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(open_rgb(path))[xy[1], xy[0]])


def close(a, b, tol=3) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a, b))


# --- writers for files Pillow cannot make -----------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path, pixels: np.ndarray) -> None:
    """A 16-bit PNG (grey [H, W] or RGB [H, W, 3]), as cameras and scanners write them."""
    h, w = pixels.shape[:2]
    color_type = 2 if pixels.ndim == 3 else 0
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw))
                     + _png_chunk(b"IEND", b""))


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def rgb_icc_profile(red, green, blue, gamma: float = 1.0) -> bytes:
    """A minimal ICC v2 matrix/TRC RGB profile with the given colorants (XYZ, D50)."""
    def xyz(v):
        return b"XYZ \0\0\0\0" + b"".join(_s15f16(c) for c in v)
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    text = b"swapped primaries\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67
    tags = [(b"desc", desc), (b"wtpt", xyz((0.9642, 1.0, 0.8249))), (b"rXYZ", xyz(red)), (b"gXYZ", xyz(green)),
            (b"bXYZ", xyz(blue)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + b"\0" * 12
              + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + b"".join(_s15f16(c) for c in (0.9642, 1.0, 0.8249)))
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


SRGB_RED, SRGB_GREEN, SRGB_BLUE = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)


# --- colour modes -----------------------------------------------------------------------------------

def test_rgb_jpeg_is_read_as_is(tmp_path):
    Image.new("RGB", (16, 16), (200, 30, 90)).save(tmp_path / "a.jpg", quality=100)
    assert close(rgb_at(tmp_path / "a.jpg"), (200, 30, 90), tol=4)


def test_rgba_transparent_pixels_become_white(tmp_path):
    im = Image.new("RGBA", (16, 16), (255, 0, 0, 255))
    im.paste((0, 0, 255, 0), (0, 0, 8, 16))                    # left half fully transparent
    im.save(tmp_path / "a.png")
    assert rgb_at(tmp_path / "a.png", (2, 2)) == (255, 255, 255)
    assert rgb_at(tmp_path / "a.png", (12, 2)) == (255, 0, 0)


def test_half_transparent_pixels_are_blended_on_white(tmp_path):
    Image.new("RGBA", (8, 8), (0, 0, 0, 128)).save(tmp_path / "a.png")
    assert close(rgb_at(tmp_path / "a.png"), (127, 127, 127), tol=1)


def test_grayscale_with_alpha(tmp_path):
    Image.new("LA", (8, 8), (0, 0)).save(tmp_path / "a.png")
    assert rgb_at(tmp_path / "a.png") == (255, 255, 255)


def test_palette_with_transparent_index(tmp_path):
    im = Image.new("P", (8, 8), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (4, 0, 8, 8))
    im.save(tmp_path / "a.png", transparency=0)
    assert rgb_at(tmp_path / "a.png", (0, 0)) == (255, 255, 255)
    assert rgb_at(tmp_path / "a.png", (6, 0)) == (0, 255, 0)


def test_palette_gif(tmp_path):
    im = Image.new("P", (8, 8), 1)
    im.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    im.save(tmp_path / "a.gif")
    assert rgb_at(tmp_path / "a.gif") == (10, 200, 30)


def test_rgb_with_transparent_colour_key(tmp_path):
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "a.png", transparency=(10, 20, 30))
    assert rgb_at(tmp_path / "a.png") == (255, 255, 255)


def test_grayscale_and_bilevel(tmp_path):
    Image.new("L", (8, 8), 77).save(tmp_path / "g.png")
    Image.new("1", (8, 8), 1).save(tmp_path / "b.png")
    assert rgb_at(tmp_path / "g.png") == (77, 77, 77)
    assert rgb_at(tmp_path / "b.png") == (255, 255, 255)


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "a.jpg", quality=100)
    assert Image.open(tmp_path / "a.jpg").mode == "CMYK"
    assert close(rgb_at(tmp_path / "a.jpg"), (255, 0, 0), tol=4)


def test_cmyk_tiff(tmp_path):
    Image.new("CMYK", (8, 8), (255, 0, 255, 0)).save(tmp_path / "a.tif")
    assert rgb_at(tmp_path / "a.tif") == (0, 255, 0)


def test_cielab_tiff_is_colour_managed(tmp_path):
    # Pillow stores a and b with an offset of 128: (L=50%, a=0, b=0) is a neutral mid grey, not blue.
    Image.new("LAB", (8, 8), (128, 128, 128)).save(tmp_path / "a.tif")
    r, g, b = rgb_at(tmp_path / "a.tif")
    assert abs(r - g) <= 2 and abs(g - b) <= 2 and 100 < g < 140


def test_sixteen_bit_grayscale_png(tmp_path):
    write_png16(tmp_path / "a.png", np.array([[0, 32896, 65535]], dtype=np.uint16))
    assert np.asarray(open_rgb(tmp_path / "a.png"))[0, :, 0].tolist() == [0, 128, 255]


def test_sixteen_bit_rgb_png(tmp_path):
    px = np.zeros([4, 4, 3], dtype=np.uint16)
    px[..., 0], px[..., 1] = 65535, 32896
    write_png16(tmp_path / "a.png", px)
    assert close(rgb_at(tmp_path / "a.png"), (255, 128, 0), tol=1)


def test_sixteen_bit_tiff_written_by_pillow(tmp_path):
    im = Image.new("I;16", (8, 8))
    im.putdata([60000] * 64)
    im.save(tmp_path / "a.tif")
    assert rgb_at(tmp_path / "a.tif") == (233, 233, 233)


def test_32_bit_integer_image_uses_its_range(tmp_path):
    Image.fromarray(np.array([[0, 100_000, 200_000]], dtype=np.int32), "I").save(tmp_path / "a.tif")
    assert np.asarray(open_rgb(tmp_path / "a.tif"))[0, :, 0].tolist() == [0, 128, 255]


def test_float_image(tmp_path):
    Image.new("F", (8, 8), 0.5).save(tmp_path / "a.tif")
    assert rgb_at(tmp_path / "a.tif") == (128, 128, 128)


def test_embedded_icc_profile_is_applied(tmp_path):
    """A profile whose 'red' channel is sRGB's green: the pixel must come out green, not red."""
    icc = rgb_icc_profile(SRGB_GREEN, SRGB_RED, SRGB_BLUE)
    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "a.png", icc_profile=icc)
    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "a.jpg", icc_profile=icc, quality=100)
    for name in ("a.png", "a.jpg"):
        r, g, b = rgb_at(tmp_path / name)
        assert g > 150 and r < 40 and b < 40, (name, r, g, b)


def test_icc_profile_with_alpha_keeps_transparency(tmp_path):
    icc = rgb_icc_profile(SRGB_GREEN, SRGB_RED, SRGB_BLUE)
    im = Image.new("RGBA", (8, 8), (200, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 4, 8))
    im.save(tmp_path / "a.png", icc_profile=icc)
    assert rgb_at(tmp_path / "a.png", (1, 1)) == (255, 255, 255)
    r, g, b = rgb_at(tmp_path / "a.png", (6, 1))
    assert g > 150 and r < 40


def test_icc_profile_with_colour_key_keeps_transparency(tmp_path):
    icc = rgb_icc_profile(SRGB_GREEN, SRGB_RED, SRGB_BLUE)
    im = Image.new("RGB", (8, 8), (200, 0, 0))
    im.paste((10, 20, 30), (0, 0, 4, 8))
    im.save(tmp_path / "a.png", icc_profile=icc, transparency=(10, 20, 30))
    assert rgb_at(tmp_path / "a.png", (1, 1)) == (255, 255, 255)
    r, g, b = rgb_at(tmp_path / "a.png", (6, 1))
    assert g > 150 and r < 40


def test_broken_icc_profile_is_ignored(tmp_path):
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "a.png", icc_profile=b"not a profile at all")
    assert rgb_at(tmp_path / "a.png") == (200, 10, 10)


# --- geometry ---------------------------------------------------------------------------------------

def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (20, 0, 40, 20))                      # stored: red left, blue right
    exif = Image.Exif()
    exif[0x0112] = 6                                            # display rotated 90 degrees clockwise
    im.save(tmp_path / "a.jpg", exif=exif, quality=100)
    upright = open_rgb(tmp_path / "a.jpg")
    assert upright.size == (20, 40)
    px = np.asarray(upright)
    assert close(px[5, 10], (255, 0, 0), tol=8) and close(px[35, 10], (0, 0, 255), tol=8)  # red on top


def test_load_square_crops_the_centre_and_resizes(tmp_path):
    im = Image.new("RGB", (300, 100), (0, 0, 0))
    im.paste((255, 255, 255), (100, 0, 200, 100))                # the centre square is white
    im.save(tmp_path / "a.png")
    out = load_square(tmp_path / "a.png", 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out.min() >= 250


def test_center_crop_resize_upscales_small_images():
    out = center_crop_resize(Image.new("RGB", (10, 12), (5, 6, 7)), 64)
    assert out.size == (64, 64) and out.getpixel((32, 32)) == (5, 6, 7)


# --- broken inputs ----------------------------------------------------------------------------------

def one_line_error(path) -> str:
    with pytest.raises(ImageInputError) as e:
        load_square(path, 32)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    return msg


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_truncated_file(tmp_path, fmt):
    noise = np.random.RandomState(0).randint(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / f"full.{fmt}")
    data = (tmp_path / f"full.{fmt}").read_bytes()
    (tmp_path / f"cut.{fmt}").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in one_line_error(tmp_path / f"cut.{fmt}")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("hello, not a picture\n")
    assert "not an image" in one_line_error(tmp_path / "notes.png")


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert "empty file" in one_line_error(tmp_path / "empty.jpg")


def test_missing_file_and_directory(tmp_path):
    assert "not found" in one_line_error(tmp_path / "missing.jpg")
    assert "directory" in one_line_error(tmp_path)


def test_decompression_bomb_is_refused(tmp_path):
    """A header claiming 400 M pixels: refused before anything is decoded."""
    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                                        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _png_chunk(b"IEND", b""))
    assert "too large" in one_line_error(tmp_path / "bomb.png")
