"""Robust photo decoding: every file either becomes an upright 8-bit RGB image or a `Rejected`.

Colour handling is explicit and recorded: greyscale (8- or 16-bit, bilevel) is replicated to
three channels and marked `grey`; CMYK, palette and 16-bit colour are converted and marked; alpha
is composited over mid-grey (so a transparent background does not turn black) and marked.
The EXIF orientation is applied, so landmarks refer to the photo as a viewer shows it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 64_000_000  # a 8000 x 8000 photo; larger ones are decompression-bomb suspects


class Rejected(Exception):
    """An input that cannot be ingested; `reason` is a stable keyword for quarantine.parquet."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Photo:
    """A decoded photo: `image` is RGB 8-bit and upright; `colour` says what it was converted from."""

    image: Image.Image
    colour: str  # rgb | grey | cmyk | palette | rgba | grey16 | rgb16 | other:<mode>
    rotated: bool  # an EXIF orientation other than 1 was applied

    @property
    def grey(self) -> bool:
        return self.colour in ("grey", "grey16")


def _to_rgb(img: Image.Image) -> tuple[Image.Image, str]:
    mode = img.mode
    if mode == "RGB":
        return img, "rgb"
    if mode in ("L", "1"):
        return img.convert("L").convert("RGB"), "grey"
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16/32-bit greyscale: Pillow's convert("L") clips at 255 instead of scaling, so scale here.
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        grey = np.clip(np.round(a / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[..., None], 3, -1), "RGB"), "grey16"
    if mode == "CMYK":
        return img.convert("RGB"), "cmyk"
    if mode == "P":
        has_alpha = "transparency" in img.info
        img = img.convert("RGBA") if has_alpha else img.convert("RGB")
        if not has_alpha:
            return img, "palette"
        return _flatten(img), "palette"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _flatten(img.convert("RGBA")), "rgba"
    if mode in ("RGB;16", "BGR;16", "RGBX"):
        return img.convert("RGB"), "rgb16"
    return img.convert("RGB"), f"other:{mode}"


def _flatten(rgba: Image.Image) -> Image.Image:
    """Composite over mid-grey: neither black nor white, which would skew colour statistics."""
    grey = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
    return Image.alpha_composite(grey, rgba).convert("RGB")


def decode_photo(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Verify and normalise one photo file's bytes; raises `Rejected` with a reason for bad input."""
    if not data:
        raise Rejected("empty_file", "0 bytes")
    with warnings.catch_warnings():
        # Pillow warns, then raises, above its own pixel limit; we check our limit before decoding.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise Rejected("too_large", f"{w}x{h} px exceeds the {max_pixels} px guard")
                if w < 1 or h < 1:
                    raise Rejected("not_an_image", f"{w}x{h} px")
                img.load()
                if getattr(img, "n_frames", 1) > 1:
                    img.seek(0)
                upright = ImageOps.exif_transpose(img)
                rotated = upright is not img and img.getexif().get(0x0112, 1) not in (1, None)
                if upright is None:  # pragma: no cover - exif_transpose returns an image unless in_place
                    upright = img
                rgb, colour = _to_rgb(upright)
                rgb.load()
                return Photo(rgb, colour, rotated)
        except Rejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Rejected("too_large", str(exc)) from None
        except UnidentifiedImageError:
            raise Rejected("not_an_image", "not a format Pillow can read") from None
        except OSError as exc:
            text = str(exc)
            if "truncated" in text or "broken data stream" in text or "premature end" in text.lower():
                raise Rejected("truncated", text) from None
            raise Rejected("corrupt", text) from None
        except (ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
            raise Rejected("corrupt", f"{type(exc).__name__}: {exc}") from None
