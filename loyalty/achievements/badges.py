"""A badge image as the app serves it: any picture Pillow reads, fitted into a
transparent square of ``SIZE`` pixels and saved as a PNG, with a version from its bytes
(the badge's address changes with the picture, so it can be cached for good)."""

import hashlib
import io

from PIL import Image, ImageOps, UnidentifiedImageError

from core.exceptions import DomainError

SIZE = 256
# What an upload may weigh, and how many pixels it may hold once decoded.
MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000


def badge_png(data: bytes) -> tuple[bytes, str]:
    """The badge made from an uploaded picture: (PNG bytes, version). Raises
    ``DomainError`` on ``badge`` for what is not a picture, or too large."""
    if len(data) > MAX_BYTES:
        raise DomainError("The picture is larger than 5 MB.", field="badge")
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.width * source.height > MAX_PIXELS:
                raise DomainError("The picture has too many pixels.", field="badge")
            source.load()
            picture = ImageOps.exif_transpose(source).convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise DomainError("Upload a PNG, JPEG, GIF or WebP picture.", field="badge") from error
    picture = ImageOps.contain(picture, (SIZE, SIZE), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    canvas.paste(picture, ((SIZE - picture.width) // 2, (SIZE - picture.height) // 2))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    png = out.getvalue()
    return png, hashlib.sha256(png).hexdigest()[:12]
