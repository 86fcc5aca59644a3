"""Pictures for the demo catalog, drawn with Pillow (nothing is downloaded): a brand's
logo is a coloured tile with its initials, a card shows the brand, a title and a caption."""

import io
import unicodedata
from typing import Any

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw, ImageFont


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return (int(rgb[0] * factor), int(rgb[1] * factor), int(rgb[2] * factor))


def initials(name: str) -> str:
    name = _drawable(name)
    words = [word for word in name.split() if word[0].isalnum()]
    if len(words) > 1:
        return (words[0][0] + words[1][0]).upper()
    capitals = [c for c in name if c.isupper()]
    return "".join(capitals[:2]) if len(capitals) > 1 else name[:2].upper()


# Pillow's own font draws ASCII (and a few signs) only: accents are dropped and currency
# signs spelled out, so that no glyph is drawn as a box.
_SIGNS = {"€": "EUR ", "£": "GBP ", "¥": "JPY "}


def _drawable(text: str) -> str:
    text = unicodedata.normalize("NFKD", "".join(_SIGNS.get(c, c) for c in text))
    return "".join(c for c in text if c.isascii() or c in "·…")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    text = _drawable(text)
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _png(image: Image.Image) -> ContentFile:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return ContentFile(buffer.getvalue())


def draw_logo(name: str, colour: str, size: int = 256) -> ContentFile:
    """A coloured tile with the brand's initials."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=_rgb(colour))
    font = _font(size * 2 // 5)
    draw.text((size / 2, size / 2), initials(name), font=font, fill="white", anchor="mm")
    return _png(image)


def draw_card(*, brand: str, colour: str, title: str, caption: str, corner: str) -> ContentFile:
    """A card-shaped picture in the brand's colour: its initials, a title and a caption."""
    width, height = 640, 400
    rgb = _rgb(colour)
    image = Image.new("RGB", (width, height), rgb)
    draw = ImageDraw.Draw(image)
    band = [(width * 0.55, 0), (width, 0), (width, height), (width * 0.3, height)]
    draw.polygon(band, fill=_shade(rgb, 0.8))
    draw.rounded_rectangle((32, 32, 112, 112), radius=14, fill="white")
    draw.text((72, 72), initials(brand), font=_font(34), fill=rgb, anchor="mm")
    lines = [
        ((132, 72), brand, 30, 470, "lm"),
        ((32, 230), title, 38, width - 64, "ls"),
        ((32, height - 36), caption, 24, 400, "ls"),
    ]
    for xy, text, size, room, anchor in lines:
        font = _font(size)
        draw.text(xy, _fit(draw, text, font, room), font=font, fill="white", anchor=anchor)
    grey = (225, 225, 225)
    draw.text((width - 32, height - 36), corner, font=_font(24), fill=grey, anchor="rs")
    return _png(image)
