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
    response = FileResponse(handle, filename=field_file.name.rsplit("/", 1)[-1])
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response
