"""Consent and appeal screenshots are checked by their content, not their name, and a PDF is
served as a download."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compliance.models import ConsentEvent
from compliance.uploads import sniff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"GIF87a\x01\x00", "GIF"),
        (b"GIF89a\x01\x00", "GIF"),
        (WEBP, "WEBP"),
        (PDF, "PDF"),
        (b"<!doctype html><script>alert(1)</script>", ""),
        (b"\x89PNG", ""),  # a signature cut short
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", ""),
        (b"", ""),
    ],
)
def test_sniff_knows_the_kinds_by_their_first_bytes(head, kind):
    assert sniff(head) == kind


def record(login, world, upload):
    url = reverse("consent_record", args=[world.a1.pk, world.a1_contact.pk])
    return login(world.a1_user).post(url, {"source": "Web", "at": "2026-01-01T10:00", "screenshot": upload})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        (
            "x.png",
            b"<html><script>alert(1)</script></html>",
            "The file is not a PNG, JPEG, GIF or WebP image, nor a PDF.",
        ),
        ("x.png", PDF, "The file is a PDF, but its name ends in “.png”: rename it."),
        ("x.pdf", PNG, "The file is a PNG, but its name ends in “.pdf”: rename it."),
        ("x.gif", b"", "The submitted file is empty."),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused(world, login, name, content, error):
    response = record(login, world, SimpleUploadedFile(name, content))
    assert response.status_code == 200 and error in response.content.decode()
    assert not ConsentEvent.objects.exists()


def served(login, world, name, content):
    assert record(login, world, SimpleUploadedFile(name, content)).status_code == 302
    event = ConsentEvent.objects.get()
    response = login(world.a1_user).get(
        reverse("consent_screenshot", args=[world.a1.pk, world.a1_contact.pk, event.pk])
    )
    assert b"".join(response.streaming_content) == content
    return response


@pytest.mark.django_db
def test_a_pdf_is_served_as_a_download(world, login):
    response = served(login, world, "proof.pdf", PDF)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "content_type"), [("form.png", PNG, "image/png"), ("f.webp", WEBP, "image/webp")]
)
def test_an_image_is_shown_inline(world, login, name, content, content_type):
    response = served(login, world, name, content)
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("inline;")
