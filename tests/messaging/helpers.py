from django.conf import settings

from messaging.providers.base import sign
from messaging.providers.memory import AUTH_TOKEN


def post_signed(client, path, params, *, token=AUTH_TOKEN, signature=None):
    """POST a Twilio-format webhook signed the way Twilio signs it (public URL + params)."""
    url = settings.PUBLIC_BASE_URL + path
    headers = {} if signature == "missing" else {"X-Twilio-Signature": signature or sign(token, url, params)}
    return client.post(path, params, headers=headers)
