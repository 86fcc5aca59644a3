"""What the PDFs (vouchers, monthly reports) share: an uploaded image inlined as a
``data:`` URL, so WeasyPrint renders with nothing fetched, the same on every host."""

import base64
import mimetypes

from django.db.models.fields.files import FieldFile

# A larger image is left out rather than bloat every PDF made with it.
IMAGE_MAX_BYTES = 2 * 1024 * 1024


def image_data_uri(image: FieldFile | None, *, max_bytes: int = IMAGE_MAX_BYTES) -> str:
    """``image`` as a ``data:`` URL; "" without one, or when the file is missing or too
    large (a lost logo must not stop a document)."""
    if not image:
        return ""
    try:
        if image.size > max_bytes:
            return ""
        with image.open("rb") as handle:
            data = handle.read()
    except OSError:
        return ""
    mime = mimetypes.guess_type(image.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
