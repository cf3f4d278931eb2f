"""Uploaded files (consent and appeal screenshots), served only by views that have checked the
tenant: never public media."""

from django.http import FileResponse, Http404


def private_file(field_file) -> FileResponse:
    """An uploaded file (consent or appeal screenshot), served by a view that has checked the
    tenant: never guessed as another type, never run as a page."""
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The file is missing.") from None
    name = field_file.name.rsplit("/", 1)[-1]
    # A PDF is downloaded, not shown in the browser: it can carry scripts, forms and links that
    # an in-browser viewer acts on, beyond what the CSP below governs.
    response = FileResponse(handle, filename=name, as_attachment=name.lower().endswith(".pdf"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response
