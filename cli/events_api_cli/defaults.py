"""Names the local stack and the key commands share, so they agree without configuration.

``events-api dev`` creates everything under these names in moto; the ``keys`` commands use
``LOCAL_KEYS_PATH`` when given neither ``--stack`` nor ``--path``, so that
``AWS_ENDPOINT_URL=http://127.0.0.1:4566 events-api keys create --name me`` talks to the
same key path the local gateway reads.
"""

from __future__ import annotations

LOCAL_KEYS_PATH = "/events-api/local/keys/"
LOCAL_REGION = "us-east-1"
#: moto's default account, which is also what ARNs from moto carry.
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_STREAM_NAME = "events-api-local-events"
LOCAL_QUEUE_NAME = "events-api-local-events"
LOCAL_DEAD_LETTER_QUEUE_NAME = "events-api-local-events-dlq"
LOCAL_BUCKET_NAME = "events-api-local-events"
LOCAL_SERVICE_NAME = "events-api"

DEFAULT_HOST = "127.0.0.1"
#: `sam local start-api`'s port.
DEFAULT_GATEWAY_PORT = 3000
#: LocalStack's port, so tools set up for it work against `events-api dev` unchanged.
DEFAULT_AWS_PORT = 4566

#: Prefix of the one machine-readable line `events-api dev` prints once it is ready.
READY_PREFIX = "EVENTS_API_DEV_READY "

#: `events-api ui`'s port, and the prefix of the one line it prints once it is ready.
DEFAULT_UI_PORT = 8300
UI_READY_PREFIX = "EVENTS_API_UI_READY "
