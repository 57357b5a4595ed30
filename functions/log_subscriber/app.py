"""Log subscriber function (LogSubscription LogGroups): keeps the named log groups and the
prefixes' groups subscribed (events_api.ingest.log_subscriptions). CloudFormation calls it
at deployment (subscribe all; at deletion, unsubscribe all), EventBridge Scheduler every
minute (subscribe the groups created since). Wiring only."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from events_api.analytics.custom_resource import is_stack_request, respond
from events_api.aws import clients
from events_api.ingest.log_subscriptions import RECENT_MS, Subscriber
from events_api.observability import logger
from events_api.settings import LogSubscriberSettings


@cache
def subscriber() -> Subscriber:
    return Subscriber(LogSubscriberSettings.from_env(), clients.logs())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_stack_request(event):
        physical_id = "log-subscriptions"
        try:
            if event["RequestType"] == "Delete":
                outcome = subscriber().unsubscribe()
                reason = f"{len(outcome.removed)} log groups unsubscribed"
            else:
                outcome = subscriber().subscribe()
                reason = f"{len(outcome.subscribed)} log groups subscribed"
        except Exception as exc:  # the stack must get an answer whatever happened
            logger.exception("log subscriptions not changed")
            # A failed deletion must not keep the stack from being deleted.
            ok = event["RequestType"] == "Delete"
            return respond(event, physical_id, ok=ok, reason=f"log subscriptions: {exc}")
        return respond(event, physical_id, reason=reason)
    outcome = subscriber().subscribe(created_after_ms=int(time.time() * 1000) - RECENT_MS)
    return {"subscribed": outcome.subscribed, "failed": outcome.failed}
