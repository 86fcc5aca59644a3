"""Which files a ticket message may carry: a whitelist of types recognised by their
first bytes (never by the name or the type the sender claims), a size limit per file and
a number of files per message."""

import os
import unicodedata
from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse

from customercare.exceptions import AttachmentRefused
from customercare.models import TicketAttachment

MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 5
# Content type by the file's leading bytes, and the extensions that go with it.
SIGNATURES: tuple[tuple[bytes, str, tuple[str, ...]], ...] = (
    (b"%PDF-", "application/pdf", (".pdf",)),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
    (b"GIF87a", "image/gif", (".gif",)),
    (b"GIF89a", "image/gif", (".gif",)),
)
# A stored file opened by mistake in a browser runs nothing, loads nothing, stays out of
# caches.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
TEXT_EXTENSIONS = (".txt", ".csv", ".log", ".json")
ALLOWED = "PDF, PNG, JPEG, GIF or plain text"


def _head(upload: UploadedFile, size: int = 8192) -> bytes:
    upload.seek(0)
    head = upload.read(size)
    upload.seek(0)
    return head


def content_type(upload: UploadedFile) -> str:
    """The type the file's bytes show, or ``AttachmentRefused``."""
    head = _head(upload)
    extension = os.path.splitext(upload.name or "")[1].lower()
    for magic, kind, extensions in SIGNATURES:
        if head.startswith(magic):
            if extension not in extensions:
                raise AttachmentRefused(
                    f"{display_name(upload)}: the name does not match its content ({kind}).",
                    field="attachments",
                )
            return kind
    if extension in TEXT_EXTENSIONS and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            # A multi-byte character cut at the end of the sample is still text.
            if error.start < len(head) - 4:
                raise AttachmentRefused(
                    f"{display_name(upload)}: text files must be UTF-8.", field="attachments"
                ) from error
        return "text/plain"
    raise AttachmentRefused(
        f"{display_name(upload)}: only {ALLOWED} files are accepted.", field="attachments"
    )


def display_name(upload: UploadedFile) -> str:
    """The sender's file name, without folders or control characters, for showing."""
    name = os.path.basename((upload.name or "file").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "file")[-200:]


def check_all(uploads: Sequence[UploadedFile]) -> None:
    if len(uploads) > MAX_FILES:
        raise AttachmentRefused(f"At most {MAX_FILES} files per message.", field="attachments")
    for upload in uploads:
        if upload.size is None or upload.size > MAX_BYTES:
            raise AttachmentRefused(
                f"{display_name(upload)}: larger than {MAX_BYTES // (1024 * 1024)} MB.",
                field="attachments",
            )
        if upload.size == 0:
            raise AttachmentRefused(f"{display_name(upload)}: empty.", field="attachments")
        content_type(upload)


def attachment_download(attachment: TicketAttachment) -> FileResponse | None:
    """The file as a download under its sender's name and checked type; ``None`` when it
    is gone from storage. Callers decide who may have it."""
    try:
        handle = attachment.file.open("rb")
    except OSError:
        return None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    for header, value in DOWNLOAD_HEADERS.items():
        response[header] = value
    return response
