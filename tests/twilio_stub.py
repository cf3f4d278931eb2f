"""A Twilio-compatible HTTP server on 127.0.0.1, for the provider tests and the benchmark.

It speaks just enough of the Messages API (2010-04-01) for the real SDK: creating a message
(answers 201 and records it) and listing messages (filtered by To, From and DateSent>). Each
`To` number can be scripted to answer otherwise, once per scripted action, in order:

    with running_stub() as stub:
        stub.script["+15005550001"] = [TOO_MANY_REQUESTS, Delay(2)]  # 429 first, then slow
        ...
        stub.received  # what it accepted: dicts with sid, to, from, body, status_callback

And of the phone numbers API: searching `AvailablePhoneNumbers/{country}/Local.json` (AreaCode,
Contains — letters read as on a keypad —, SmsEnabled), buying (`POST IncomingPhoneNumbers.json`
with PhoneNumber: the number leaves `stub.available` and joins `stub.numbers`, with the webhook
URLs it was given), listing, updating and deleting (`IncomingPhoneNumbers/{sid}.json`). A number
not for sale answers 21422, an unknown sid 404 (20404); `stub.number_script` holds errors the next
number requests answer, in order:

    stub.available["US"].append(for_sale("+16462345678", "New York", "NY"))
    stub.number_script.append(Error(500, 20500, "Internal Server Error"))
    stub.numbers  # sid → dict of phone_number, friendly_name, sms_url, status_callback, …

From another process (the benchmark): `python -m tests.twilio_stub --port 8123 [--latency-ms 100]`
(`--latency-ms`: every answer waits that long, as api.twilio.com takes 100–300 ms).

Stdlib only, no Django: the benchmark runs it as a plain subprocess.
"""

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API = "/2010-04-01"
ACCOUNT_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account_sid>AC[0-9a-fA-F]{32})/(?P<resource>.+)$")
AVAILABLE_PATH = re.compile(r"^AvailablePhoneNumbers/(?P<country>[A-Z]{2})/Local\.json$")
NUMBER_PATH = re.compile(r"^IncomingPhoneNumbers/(?P<sid>PN[0-9a-fA-F]{32})\.json$")
KEYPAD = {letter: digit for digit, letters in {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO",
          "7": "PQRS", "8": "TUV", "9": "WXYZ"}.items() for letter in letters}  # fmt: skip


@dataclass(frozen=True)
class Error:
    """Answer with Twilio's error JSON instead of accepting the message."""

    status: int
    code: int
    message: str


@dataclass(frozen=True)
class Delay:
    """Accept (and record) the message, but answer only after `seconds`: a read timeout on the
    client's side, for a message Twilio did in fact take."""

    seconds: float


TOO_MANY_REQUESTS = Error(429, 20429, "Too Many Requests")
INVALID_NUMBER = Error(400, 21211, "The 'To' number is not a valid phone number.")
UNSUBSCRIBED = Error(400, 21610, "Attempt to send to unsubscribed recipient")


def error_payload(error: Error) -> dict:
    return {
        "code": error.code,
        "message": error.message,
        "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
        "status": error.status,
    }


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=False)  # Twilio's shape: "Sat, 22 Nov 2026 10:00:00 +0000"


def message_resource(record: dict, *, status: str) -> dict:
    """The JSON of one message, as Twilio answers it (and the SDK's MessageInstance reads it)."""
    created = rfc2822(record["date_created"])
    uri = f"{API}/Accounts/{record['account_sid']}/Messages/{record['sid']}"
    return {
        "account_sid": record["account_sid"],
        "api_version": "2010-04-01",
        "body": record["body"],
        "date_created": created,
        "date_sent": created if status == "sent" else None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": record["from"],
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": record["sid"],
        "status": status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": record["to"],
        "uri": f"{uri}.json",
    }


def for_sale(number: str, locality: str = "", region: str = "", *, sms: bool = True) -> dict:
    """One AvailablePhoneNumber as Twilio lists it."""
    return {
        "friendly_name": f"({number[2:5]}) {number[5:8]}-{number[8:]}" if number.startswith("+1") else number,
        "phone_number": number, "lata": None, "locality": locality, "rate_center": None, "latitude": None,
        "longitude": None, "region": region, "postal_code": None, "iso_country": "US", "address_requirements": "none",
        "beta": False, "capabilities": {"voice": True, "SMS": sms, "MMS": sms, "fax": False},
    }  # fmt: skip


def default_for_sale() -> dict[str, list[dict]]:
    return {
        "US": [
            for_sale("+16462345678", "New York", "NY"), for_sale("+16463217654", "New York", "NY"),
            for_sale("+15122345610", "Austin", "TX"), for_sale("+15129876543", "Austin", "TX", sms=False),
        ],
        "CA": [for_sale("+14162345678", "Toronto", "ON")],
    }  # fmt: skip


def incoming_resource(account_sid: str, record: dict) -> dict:
    """The JSON of one IncomingPhoneNumber (what the SDK's IncomingPhoneNumberInstance reads)."""
    now = rfc2822(record["date_created"])
    return {
        "account_sid": account_sid, "address_requirements": "none", "api_version": "2010-04-01", "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False}, "date_created": now,
        "date_updated": now, "friendly_name": record["friendly_name"], "origin": "twilio",
        "phone_number": record["phone_number"], "sid": record["sid"], "sms_method": record.get("sms_method", "POST"),
        "sms_url": record.get("sms_url", ""), "status_callback": record.get("status_callback", ""),
        "status_callback_method": record.get("status_callback_method", "POST"),
        "voice_url": record.get("voice_url", ""),
        "uri": f"{API}/Accounts/{account_sid}/IncomingPhoneNumbers/{record['sid']}.json",
    }  # fmt: skip


# Form fields of IncomingPhoneNumbers that the stub keeps (Twilio's names → the record's).
NUMBER_FIELDS = {"FriendlyName": "friendly_name", "SmsUrl": "sms_url", "SmsMethod": "sms_method",
                 "StatusCallback": "status_callback", "StatusCallbackMethod": "status_callback_method",
                 "VoiceUrl": "voice_url"}  # fmt: skip


def page_payload(key: str, items: list, uri: str, page_size: int) -> dict:
    return {key: items, "end": max(len(items) - 1, 0), "first_page_uri": uri, "next_page_uri": None,
            "previous_page_uri": None, "page": 0, "page_size": page_size, "start": 0, "uri": uri}  # fmt: skip


def parse_twilio_datetime(value: str) -> datetime | None:
    """DateSent> as the SDK sends it (2026-11-22T10:00:00Z) or a plain date."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


class StubState:
    """What the stub knows, whichever server answers: the accepted messages and the scripts."""

    def __init__(self, latency: float = 0.0):
        self.latency = latency
        self.received: list[dict] = []
        self.script: dict[str, list[Error | Delay]] = {}
        self.available: dict[str, list[dict]] = default_for_sale()
        self.numbers: dict[str, dict] = {}
        self.number_script: list[Error] = []
        self.lock = threading.Lock()
        self.registrations = RegistrationStub()

    def next_action(self, to: str) -> Error | Delay | None:
        with self.lock:
            planned = self.script.get(to)
            return planned.pop(0) if planned else None

    def sids_to(self, to: str) -> list[str]:
        with self.lock:
            return [r["sid"] for r in self.received if r["to"] == to]

    def respond(self, method: str, target: str, authorization: str, body: bytes) -> tuple[int, dict | None, float]:
        """(status, JSON payload or None for no body, seconds to wait before answering)."""
        if urlsplit(target).path.startswith("/v1/"):  # messaging.twilio.com: carrier registration
            return self.registrations.respond(method, target, authorization, body)
        account_sid, resource, refusal = self._authorized_account(target, authorization)
        if refusal is not None:
            return refusal.status, error_payload(refusal), 0.0
        if resource == "Messages.json" and method == "POST":
            return self._create(account_sid, body)
        if resource == "Messages.json" and method == "GET":
            return 200, self._list(account_sid, target), 0.0
        if resource.startswith(("AvailablePhoneNumbers/", "IncomingPhoneNumbers")):
            with self.lock:
                scripted = self.number_script.pop(0) if self.number_script else None
            if scripted is not None:
                return scripted.status, error_payload(scripted), 0.0
            status, payload = self._numbers(method, account_sid, resource, target, body)
            return status, payload, self.latency
        return 405, error_payload(Error(405, 20004, "Method not allowed")), 0.0

    # --- phone numbers ----------------------------------------------------------------------

    def _numbers(self, method, account_sid, resource, target, body) -> tuple[int, dict | None]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        page_size = int(query.get("PageSize", "50"))
        uri = f"{API}/Accounts/{account_sid}/{resource}"
        available = AVAILABLE_PATH.match(resource)
        if available and method == "GET":
            return 200, page_payload("available_phone_numbers", self._search(available["country"], query)[:page_size],
                                     uri, page_size)  # fmt: skip
        if resource == "IncomingPhoneNumbers.json" and method == "GET":
            with self.lock:
                wanted = query.get("PhoneNumber")
                records = [r for r in self.numbers.values() if wanted in (None, r["phone_number"])]
            items = [incoming_resource(account_sid, r) for r in sorted(records, key=lambda r: r["phone_number"])]
            return 200, page_payload("incoming_phone_numbers", items[:page_size], uri, page_size)
        if resource == "IncomingPhoneNumbers.json" and method == "POST":
            return self._buy(account_sid, form)
        number = NUMBER_PATH.match(resource)
        if number is None:
            return 404, error_payload(Error(404, 20404, "The requested resource was not found"))
        with self.lock:
            record = self.numbers.get(number["sid"])
            if record is None:
                return 404, error_payload(Error(404, 20404, "The requested resource was not found"))
            if method == "DELETE":
                del self.numbers[number["sid"]]
                return 204, None
            if method == "POST":
                record.update({NUMBER_FIELDS[k]: v for k, v in form.items() if k in NUMBER_FIELDS})
            return 200, incoming_resource(account_sid, record)

    def _search(self, country: str, query: dict) -> list[dict]:
        area_code = query.get("AreaCode", "")
        contains = "".join(KEYPAD.get(ch.upper(), ch) for ch in query.get("Contains", ""))
        sms_only = query.get("SmsEnabled", "").lower() == "true"
        with self.lock:
            return [
                n for n in self.available.get(country, [])
                if n["phone_number"].startswith("+1" + area_code) and contains in n["phone_number"][2:]
                and (not sms_only or n["capabilities"]["SMS"])
            ]  # fmt: skip

    def _buy(self, account_sid: str, form: dict) -> tuple[int, dict]:
        wanted = form.get("PhoneNumber", "")
        with self.lock:
            for offered in self.available.values():
                match = next((n for n in offered if n["phone_number"] == wanted), None)
                if match is not None:
                    offered.remove(match)
                    break
            else:
                error = Error(400, 21422, "PhoneNumber requested is not available")
                return error.status, error_payload(error)
            record = {"sid": "PN" + uuid.uuid4().hex, "phone_number": wanted, "friendly_name": match["friendly_name"],
                      "date_created": datetime.now(UTC).replace(microsecond=0)}  # fmt: skip
            record.update({NUMBER_FIELDS[k]: v for k, v in form.items() if k in NUMBER_FIELDS})
            self.numbers[record["sid"]] = record
        return 201, incoming_resource(account_sid, record)

    def _create(self, account_sid: str, body: bytes) -> tuple[int, dict, float]:
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        to = form.get("To", "")
        if not to or not form.get("From") or not form.get("Body"):
            error = Error(400, 21604, "A 'To', 'From' and 'Body' are required.")
            return error.status, error_payload(error), 0.0
        action = self.next_action(to)
        if isinstance(action, Error):
            return action.status, error_payload(action), 0.0
        record = {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": account_sid,
            "to": to,
            "from": form["From"],
            "body": form["Body"],
            "status_callback": form.get("StatusCallback", ""),
            "date_created": datetime.now(UTC).replace(microsecond=0),
        }
        with self.lock:
            self.received.append(record)
        wait = self.latency + (action.seconds if isinstance(action, Delay) else 0.0)
        return 201, message_resource(record, status="queued"), wait

    def _list(self, account_sid: str, target: str) -> dict:
        query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        after = parse_twilio_datetime(query["DateSent>"]) if "DateSent>" in query else None
        page_size = int(query.get("PageSize", "50"))
        with self.lock:
            matches = [
                r
                for r in reversed(self.received)  # newest first, as Twilio lists them
                if r["account_sid"] == account_sid
                and query.get("To", r["to"]) == r["to"]
                and query.get("From", r["from"]) == r["from"]
                and (after is None or r["date_created"] >= after)
            ][:page_size]
        uri = f"{API}/Accounts/{account_sid}/Messages.json?PageSize={page_size}&Page=0"
        return {
            # The stub's carrier sends at once: listed messages are "sent", with date_sent.
            "messages": [message_resource(r, status="sent") for r in matches],
            "end": max(len(matches) - 1, 0),
            "first_page_uri": uri,
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "start": 0,
            "uri": uri,
        }

    @staticmethod
    def _authorized_account(target: str, authorization: str) -> tuple[str, str, Error | None]:
        """The AccountSid and resource of the path, if the basic-auth user is that account; else
        the refusal."""
        match = ACCOUNT_PATH.match(urlsplit(target).path)
        if match is None:
            return "", "", Error(404, 20404, "The requested resource was not found")
        account_sid = match["account_sid"]
        user = ""
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(credentials).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = ""
        if user != account_sid:
            return "", "", Error(401, 20003, "Authenticate")
        return account_sid, match["resource"], None


class RegistrationStub:
    """messaging.twilio.com/v1 as far as carrier registration goes (issue 17): brands
    (`/v1/a2p/BrandRegistrations`), campaigns (`/v1/Services/{sid}/Compliance/Usa2p`) and
    toll-free verifications (`/v1/Tollfree/Verifications`). A created resource is in review;
    a test decides it: `stub.registrations.status[sid] = "APPROVED"` (brand), `"VERIFIED"`
    (campaign), `"TWILIO_APPROVED"` (toll-free), or a failure with `reasons[sid]`."""

    ROUTES = (
        (re.compile(r"^/v1/a2p/BrandRegistrations(?:/(?P<sid>BN\w+))?$"), "brand", "BN", "PENDING"),
        (re.compile(r"^/v1/Services/MG\w+/Compliance/Usa2p(?:/(?P<sid>QE\w+))?$"), "campaign", "QE", "IN_PROGRESS"),
        (re.compile(r"^/v1/Tollfree/Verifications(?:/(?P<sid>HH\w+))?$"), "toll_free", "HH", "PENDING_REVIEW"),
    )  # fmt: skip

    def __init__(self):
        self.created: list[dict] = []  # (kind, form) of each create, for the tests
        self.status: dict[str, str] = {}
        self.reasons: dict[str, str] = {}
        self.lock = threading.Lock()

    def respond(self, method: str, target: str, authorization: str, body: bytes) -> tuple[int, dict, float]:
        if not authorization.lower().startswith("basic "):
            return 401, error_payload(Error(401, 20003, "Authenticate")), 0.0
        path = urlsplit(target).path
        for pattern, kind, prefix, initial in self.ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if method == "POST" and not match["sid"]:
                form = parse_qs(body.decode(), keep_blank_values=True)
                sid = prefix + uuid.uuid4().hex
                with self.lock:
                    self.created.append({"kind": kind, "sid": sid, "form": form})
                    self.status[sid] = initial
                return 201, self._resource(kind, sid), 0.0
            if method == "GET" and match["sid"] in self.status:
                return 200, self._resource(kind, match["sid"]), 0.0
        return 404, error_payload(Error(404, 20404, "The requested resource was not found")), 0.0

    def _resource(self, kind: str, sid: str) -> dict:
        status, reason = self.status[sid], self.reasons.get(sid)
        if kind == "brand":
            return {"sid": sid, "status": status, "failure_reason": reason}
        if kind == "campaign":
            errors = [{"code": 30896, "description": reason}] if reason else []
            return {"sid": sid, "campaign_status": status, "errors": errors}
        return {"sid": sid, "status": status, "rejection_reason": reason}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twilio.com: the SDK pools connections
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK would add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: "TwilioStub"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        self._answer("POST")

    def do_GET(self):
        self._answer("GET")

    def do_DELETE(self):
        self._answer("DELETE")

    def _answer(self, method: str):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload, wait = self.server.respond(method, self.path, self.headers.get("Authorization", ""), body)
        if wait and self.server.closing.wait(wait):
            self.close_connection = True  # shutting down: never answer
            return
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (read timeout)
            self.close_connection = True


class TwilioStub(StubState, ThreadingHTTPServer):
    """The stub as a thread-per-connection server (the tests: scripted in the test's process)."""

    daemon_threads = True
    allow_reuse_address = True
    # A listen backlog for hundreds of connections opened at once (socketserver's default is 5:
    # a benchmark with many connections would measure refused SYNs, not the app).
    request_queue_size = 1024

    def __init__(self, port: int = 0, latency: float = 0.0):
        StubState.__init__(self, latency)
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), Handler)
        self.closing = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


async def serve_asyncio(state: StubState, port: int) -> None:
    """The same answers from one asyncio event loop: what the benchmark runs, so that hundreds of
    connections in flight cost the stub a coroutine each, not a thread, and the cores go to the
    app being measured. HTTP/1.1 keep-alive with Content-Length bodies, as the SDK sends them."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, payload, wait = state.respond(method, target, headers.get("authorization", ""), body)
                if wait:
                    await asyncio.sleep(wait)
                data = b"" if payload is None else json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the client closed the connection (or sent what this stub does not speak)
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", port, backlog=1024, reuse_address=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def running_stub(port: int = 0):
    """A stub serving from a daemon thread for the duration of the block."""
    stub = TwilioStub(port)
    # A short poll interval: shutdown() waits for it, once per test.
    thread = threading.Thread(target=stub.serve_forever, args=(0.05,), name="twilio-stub", daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.closing.set()
        stub.shutdown()
        stub.server_close()
        thread.join(timeout=5)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Twilio-compatible Messages API stub on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="answer every message after this long")
    parser.add_argument("--threads", action="store_true", help="a thread per connection instead of one asyncio loop")
    args = parser.parse_args(argv)
    if not args.threads:
        print(f"twilio stub listening on http://127.0.0.1:{args.port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_asyncio(StubState(args.latency_ms / 1000), args.port))
        return
    stub = TwilioStub(args.port, latency=args.latency_ms / 1000)
    print(f"twilio stub listening on {stub.url}", flush=True)
    try:
        stub.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stub.server_close()


if __name__ == "__main__":
    main()
