"""What an uploaded screenshot is, judged by its first bytes rather than by its name: an HTML
page named `x.png` is refused, not stored. Magic numbers are enough here: the files are only
ever served back with nosniff, a locked-down CSP and their stored name's type (PDFs as
downloads), so the question is only "is this the kind of file it says it is", which Pillow's
`verify()` would answer at the price of a large dependency and of no PDF support."""

from django import forms

# Signature → the kind it proves; the extensions that may carry each kind.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF-", "PDF"),
)
EXTENSIONS = {"PNG": {"png"}, "JPEG": {"jpg", "jpeg"}, "GIF": {"gif"}, "WEBP": {"webp"}, "PDF": {"pdf"}}


def sniff(head: bytes) -> str:
    """The kind of file these first bytes begin, or ""."""
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return ""


def image_or_pdf(upload) -> None:
    """Validator: a PNG, JPEG, GIF, WebP image or a PDF by content, named as what it is (an
    unknown extension is left to FileExtensionValidator)."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)  # storage reads it again from the start
    kind = sniff(head)
    if not kind:
        raise forms.ValidationError("The file is not a PNG, JPEG, GIF or WebP image, nor a PDF.")
    extension = upload.name.rsplit(".", 1)[-1].lower()
    if extension in set().union(*EXTENSIONS.values()) and extension not in EXTENSIONS[kind]:
        raise forms.ValidationError(f"The file is a {kind}, but its name ends in “.{extension}”: rename it.")
