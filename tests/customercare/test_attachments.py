"""The attachment whitelist: types known by their bytes, a size limit and a number of
files; refused uploads write nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customercare import attachments
from customercare.exceptions import AttachmentRefused
from customercare.models import Ticket, TicketAttachment
from tests.customercare.factories import care_merchant, member_of, ticket_open

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("receipt.pdf", PDF, "application/pdf"),
        ("photo.PNG", PNG, "image/png"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("notes.txt", "Commande n° 42, reçue".encode(), "text/plain"),
    ],
)
def test_allowed_types_are_known_by_their_bytes(name, content, kind):
    assert attachments.content_type(upload(name, content)) == kind


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60),
        ("invoice.pdf", b"MZ\x90\x00 not a pdf"),  # the name lies
        ("photo.png", PDF),  # a PDF named as an image
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("notes.txt", b"text with a \x00 byte"),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1") + b" " * 20),
    ],
)
def test_other_types_are_refused(name, content):
    with pytest.raises(AttachmentRefused):
        attachments.check_all([upload(name, content)])


def test_size_and_count_limits():
    big = upload("big.pdf", PDF + b"0" * attachments.MAX_BYTES)
    with pytest.raises(AttachmentRefused, match="larger than 5 MB"):
        attachments.check_all([big])
    with pytest.raises(AttachmentRefused, match="empty"):
        attachments.check_all([upload("empty.pdf", b"")])
    with pytest.raises(AttachmentRefused, match="At most 5 files"):
        attachments.check_all([upload(f"{n}.pdf", PDF) for n in range(6)])


def test_display_name_drops_folders_and_control_characters():
    assert attachments.display_name(upload("..\\..\\evil\x07.pdf", PDF)) == "evil.pdf"
    assert attachments.display_name(upload("/etc/passwd", PDF)) == "passwd"


@pytest.mark.django_db
def test_a_ticket_with_a_refused_file_is_not_opened():
    member = member_of(care_merchant())
    with pytest.raises(AttachmentRefused):
        ticket_open(member, attachments=[upload("a.pdf", PDF), upload("b.exe", b"MZ")])
    assert not Ticket.objects.exists()
    assert not TicketAttachment.objects.exists()


@pytest.mark.django_db
def test_an_accepted_file_is_stored_privately_with_its_bytes():
    member = member_of(care_merchant())
    ticket = ticket_open(member, attachments=[upload("receipt.pdf", PDF)])
    (stored,) = TicketAttachment.objects.filter(message__ticket=ticket)
    assert (stored.filename, stored.content_type, stored.size) == (
        "receipt.pdf",
        "application/pdf",
        len(PDF),
    )
    assert "receipt" not in stored.file.name  # a random name on disk
    with stored.file.open("rb") as handle:
        assert handle.read() == PDF
