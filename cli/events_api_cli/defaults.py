"""Names the local stack and the key commands share, so they agree without configuration.

``events-api dev`` runs the stack ``LOCAL_STACK_NAME`` in moto; the ``keys`` commands use
``LOCAL_KEYS_PATH`` when given neither ``--stack`` nor ``--path``, so that
``AWS_ENDPOINT_URL=http://127.0.0.1:4566 events-api keys create --name me`` talks to the
same key path the local gateway reads.
"""

from __future__ import annotations

#: The name of the stack ``events-api dev`` runs of template.yaml. Its resources are named
#: after it as CloudFormation names them (local/template/names.py): the key path below is
#: the template's for this name, the bucket and queues ``local_names`` give.
LOCAL_STACK_NAME = "local"
LOCAL_KEYS_PATH = f"/events-api/{LOCAL_STACK_NAME}/keys/"
LOCAL_REGION = "us-east-1"
#: moto's default account, which is also what ARNs from moto carry.
LOCAL_ACCOUNT_ID = "123456789012"

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
