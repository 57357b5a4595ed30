"""Generated batches shaped like real application logs, deterministic for a given seed.

Each event has what Baselime-style producers send: a message built from a template with
variable parts, a request id, a namespace, a service, a timestamp (RFC 3339 or epoch
milliseconds), a duration and nested data; some carry error strings and stack traces. Ids,
trace ids, IPs and numbers are random, so the text compresses like real logs do rather
than like repeated filler. Event sizes run from about 200 B to 4 KB.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass

import orjson

from events_api.settings import MAX_BODY_BYTES

#: The generated events' sizes (the contract's limit is events_api.settings.MAX_EVENT_BYTES).
GENERATED_MIN_EVENT_BYTES = 200
GENERATED_MAX_EVENT_BYTES = 4096

#: name -> target body size in bytes (a JSON array, compact, as producers send it).
BATCH_SIZES: dict[str, int] = {
    "100 KB": 100_000,
    "1 MB": 1_000_000,
    "6 MiB": MAX_BODY_BYTES,
}

_SERVICES = [
    "checkout-api",
    "orders-worker",
    "auth-service",
    "search-api",
    "billing-cron",
    "notifications",
    "media-resizer",
    "graphql-gateway",
]
_ROUTES = [
    "/api/v1/orders/{id}",
    "/api/v1/users/{id}/profile",
    "/api/v1/carts/{id}/items",
    "/api/v2/search",
    "/api/v1/payments/{id}/capture",
    "/graphql",
    "/api/v1/sessions",
    "/webhooks/stripe",
    "/api/v1/products/{id}/reviews",
    "/health",
]
_METHODS = ["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH"]
_LEVELS = ["info"] * 12 + ["debug"] * 4 + ["warn"] * 3 + ["error"] * 1
_USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "Go-http-client/2.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
]
_COUNTRIES = ["US", "GB", "DE", "FR", "BR", "IN", "JP", "CA", "AU", "ES", "NL", "SE"]
_PLANS = ["free", "pro", "team", "enterprise"]
_CURRENCIES = ["USD", "EUR", "GBP", "JPY", "BRL"]
_TABLES = ["orders", "users", "sessions", "payments", "products", "carts", "audit_log"]
_MESSAGES = [
    "{method} {route} {status} in {ms}ms",
    "cache miss for key user:{uid}:profile",
    "cache hit for key product:{num}",
    "payment {oid} authorised for {amount} {currency}",
    "order {oid} created with {count} items",
    "slow query on {table} took {ms}ms",
    "user {uid} signed in from {country}",
    "retrying request to upstream after {ms}ms (attempt {count})",
    "queued {count} notifications for user {uid}",
    "rate limit reached for key {short}, {count} requests in window",
    "feature flag {flag} evaluated to {bool} for user {uid}",
    "resized image {short}.jpg to {num}x{num} in {ms}ms",
    "webhook {short} delivered with status {status}",
    "session {short} expired after {num}s of inactivity",
    "Processing message {oid} from queue orders-{country}",
]
_ERRORS = [
    ("TypeError", "Cannot read properties of undefined (reading '{field}')"),
    ("ValidationError", "field '{field}' must be a non-empty string"),
    ("TimeoutError", "upstream {service} did not answer within {ms}ms"),
    ("ConditionalCheckFailedException", "The conditional request failed"),
    ("ECONNRESET", "socket hang up while calling {service}"),
    ("PaymentDeclined", "card declined: insufficient_funds ({oid})"),
]
_FIELDS = ["id", "email", "items", "amount", "currency", "address", "userId", "sku"]
_FRAMES = [
    "at Object.handler (/var/task/src/handlers/{name}.js:{line}:{col})",
    "at processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "at async Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1173:29)",
    "at {Name}Service.{verb} (/var/task/src/services/{name}.js:{line}:{col})",
    "at Layer.handle [as handle_request] (/var/task/node_modules/express/lib/router/layer.js:95:5)",
    "at next (/var/task/node_modules/express/lib/router/route.js:149:13)",
    'File "/var/task/app/{name}.py", line {line}, in {verb}',
    'File "/opt/python/lib/python3.12/site-packages/botocore/client.py", line 1023, in '
    "_make_api_call",
]
_NAMES = ["orders", "payments", "users", "carts", "search", "auth", "media"]
_VERBS = ["create", "update", "capture", "resolve", "find", "validate", "publish"]
_FLAGS = ["new-checkout", "dark-mode", "beta-search", "fast-refunds", "v2-pricing"]
_WORDS = [
    *[
        "the",
        "quick",
        "order",
        "payment",
        "user",
        "cart",
        "item",
        "price",
        "total",
        "shipping",
        "address",
        "account",
    ],
    *[
        "session",
        "token",
        "request",
        "response",
        "status",
        "region",
        "zone",
        "cluster",
        "node",
        "queue",
        "message",
    ],
    *["retry", "timeout", "limit", "window"],
]


@dataclass(frozen=True)
class Batch:
    name: str
    events: list[bytes]  # each event's compact JSON text
    body: bytes  # the JSON array as sent

    @property
    def event_bytes(self) -> int:
        return sum(len(e) for e in self.events)


class LogGenerator:
    """Deterministic log events: ``LogGenerator(seed).event()`` returns compact JSON bytes."""

    def __init__(self, seed: int = 20261126) -> None:
        self.rng = random.Random(seed)
        self.clock_ms = 1_795_694_400_000

    # small random helpers -------------------------------------------------------------
    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def _uuid(self) -> str:
        h = self._hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _ulid(self) -> str:
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        return "01H" + "".join(self.rng.choice(alphabet) for _ in range(23))

    def _ip(self) -> str:
        return ".".join(str(self.rng.randint(1, 254)) for _ in range(4))

    def _fill(self, template: str) -> str:
        rng = self.rng
        values = {
            "method": rng.choice(_METHODS),
            "route": rng.choice(_ROUTES).replace("{id}", str(rng.randint(1, 999_999))),
            "status": rng.choice([200, 200, 200, 201, 204, 302, 400, 404, 429, 500]),
            "ms": rng.randint(1, 4000),
            "uid": self._ulid(),
            "num": rng.randint(1, 100_000),
            "oid": f"ord_{self._hex(12)}",
            "amount": f"{rng.randint(1, 99_999) / 100:.2f}",
            "currency": rng.choice(_CURRENCIES),
            "count": rng.randint(1, 40),
            "table": rng.choice(_TABLES),
            "country": rng.choice(_COUNTRIES),
            "short": self._hex(8),
            "flag": rng.choice(_FLAGS),
            "bool": rng.choice(["true", "false"]),
            "field": rng.choice(_FIELDS),
            "service": rng.choice(_SERVICES),
            "name": rng.choice(_NAMES),
            "Name": rng.choice(_NAMES).capitalize(),
            "verb": rng.choice(_VERBS),
            "line": rng.randint(10, 900),
            "col": rng.randint(3, 60),
        }
        return template.format(**values)

    # blocks of nested data --------------------------------------------------------------
    def _http(self) -> dict[str, object]:
        rng = self.rng
        return {
            "method": rng.choice(_METHODS),
            "path": rng.choice(_ROUTES).replace("{id}", str(rng.randint(1, 999_999))),
            "status": rng.choice([200, 200, 201, 204, 400, 401, 404, 500]),
            "userAgent": rng.choice(_USER_AGENTS),
            "ip": self._ip(),
            "bytes": rng.randint(0, 250_000),
        }

    def _user(self) -> dict[str, object]:
        rng = self.rng
        return {
            "userId": self._ulid(),
            "plan": rng.choice(_PLANS),
            "country": rng.choice(_COUNTRIES),
            "email": f"user{rng.randint(1, 99999)}@example.com",
        }

    def _db(self) -> dict[str, object]:
        rng = self.rng
        table = rng.choice(_TABLES)
        return {
            "statement": f"SELECT id, status, updated_at FROM {table} WHERE account_id = $1 "
            f"AND created_at > $2 ORDER BY created_at DESC LIMIT {rng.randint(1, 500)}",
            "rows": rng.randint(0, 500),
            "durationMs": round(rng.uniform(0.2, 900.0), 3),
        }

    def _items(self) -> list[dict[str, object]]:
        rng = self.rng
        return [
            {
                "sku": f"SKU-{rng.randint(10000, 99999)}",
                "quantity": rng.randint(1, 5),
                "price": round(rng.uniform(1, 400), 2),
                "name": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 5))),
            }
            for _ in range(rng.randint(1, 6))
        ]

    def _error(self) -> dict[str, object]:
        rng = self.rng
        name, message = rng.choice(_ERRORS)
        frames = [self._fill(rng.choice(_FRAMES)) for _ in range(rng.randint(3, 12))]
        text = self._fill(message)
        stack = f"{name}: {text}\n    " + "\n    ".join(frames)
        return {"name": name, "message": text, "stack": stack}

    def _headers(self) -> dict[str, str]:
        return {
            "x-amzn-trace-id": f"Root=1-{self._hex(8)}-{self._hex(24)}",
            "x-forwarded-for": self._ip(),
            "accept": "application/json",
            "content-type": "application/json; charset=utf-8",
            "x-request-id": self._uuid(),
        }

    def event(self) -> bytes:
        rng = self.rng
        self.clock_ms += rng.randint(0, 40)
        level = rng.choice(_LEVELS)
        doc: dict[str, object] = {
            "message": self._fill(rng.choice(_MESSAGES)),
            "level": level,
            "requestId": self._uuid(),
            "namespace": rng.choice(_ROUTES),
            "service": rng.choice(_SERVICES),
            "duration": round(rng.lognormvariate(3.0, 1.2), 2),
        }
        if rng.random() < 0.5:
            doc["timestamp"] = self.clock_ms
        else:
            seconds, millis = divmod(self.clock_ms, 1000)
            doc["timestamp"] = _iso(seconds, millis)
        data: dict[str, object] = {"traceId": f"1-{self._hex(8)}-{self._hex(24)}"}
        doc["data"] = data
        if level == "error" or rng.random() < 0.04:
            doc["error"] = self._error()
        # Grow towards a target size drawn log-uniformly between 200 B and 4 KB.
        target = int(
            GENERATED_MIN_EVENT_BYTES
            * (GENERATED_MAX_EVENT_BYTES / GENERATED_MIN_EVENT_BYTES) ** rng.random()
        )
        blocks = [self._http, self._user, self._db, self._items, self._headers, self._error]
        names = ["http", "user", "db", "items", "headers", "cause"]
        text = orjson.dumps(doc)
        for _ in range(12):
            if len(text) >= target:
                break
            pick = rng.randrange(len(blocks))
            candidate = dict(data)
            key = names[pick] if names[pick] not in candidate else f"{names[pick]}{len(data)}"
            candidate[key] = blocks[pick]()
            doc["data"] = candidate
            attempt = orjson.dumps(doc)
            if len(attempt) > GENERATED_MAX_EVENT_BYTES:
                doc["data"] = data
                break
            data, text = candidate, attempt
        return text


def _iso(seconds: int, millis: int) -> str:
    from datetime import UTC, datetime, timedelta

    from events_api.timestamps import rfc3339

    return rfc3339(datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=millis))


def make_batch(name: str, target_bytes: int, seed: int = 20261126) -> Batch:
    """A JSON array body of at most ``target_bytes`` bytes of generated events."""
    generator = LogGenerator(seed)
    events: list[bytes] = []
    size = 2  # the brackets
    while True:
        event = generator.event()
        extra = len(event) + (1 if events else 0)
        if size + extra > target_bytes:
            break
        events.append(event)
        size += extra
    return Batch(name, events, b"[" + b",".join(events) + b"]")


def make_batches(seed: int = 20261126) -> list[Batch]:
    return [make_batch(name, size, seed) for name, size in BATCH_SIZES.items()]


def gzip_body(body: bytes, level: int = 6) -> bytes:
    """What a producer sends with ``Content-Encoding: gzip`` (the CLI's client does this)."""
    return gzip.compress(body, compresslevel=level, mtime=0)
