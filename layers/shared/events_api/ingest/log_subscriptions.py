"""Log group subscriptions for ``LogSubscription: LogGroups``: names and prefixes.

CloudFormation subscribes one named log group per resource, and an account policy selects
log groups only by ``LogGroupName NOT IN [...]``; neither follows a prefix. So a small
function keeps the selection subscribed: at deployment every matching log group (the
stack's custom resource), then every minute the groups created since (EventBridge
Scheduler), and at deletion it removes its filters again. ``PutSubscriptionFilter`` creates
or replaces a filter of the same name, so every step can be repeated safely.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..observability import logger
from ..retry import backoff_delay
from ..settings import LogSubscriberSettings

#: Groups created this long before a scheduled run are (re)subscribed by it: the schedule
#: runs every minute, so a late or failed run is covered by the next few.
RECENT_MS = 10 * 60 * 1000
_ATTEMPTS = 6


def selects(entry: str, group: str) -> bool:
    """A name selects itself; ``prefix*`` every group that starts with the prefix."""
    return group.startswith(entry[:-1]) if entry.endswith("*") else group == entry


@dataclass
class Outcome:
    subscribed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class Subscriber:
    settings: LogSubscriberSettings
    client: Any  # a CloudWatch Logs client
    sleep: Callable[[float], None] = time.sleep

    def groups(self, created_after_ms: int = 0) -> Iterator[str]:
        """The selected log groups (each once), the stack's own left out."""
        seen: set[str] = set()
        for entry in self.settings.selection:
            prefix = entry[:-1] if entry.endswith("*") else entry
            pages = self.client.get_paginator("describe_log_groups").paginate(
                **({"logGroupNamePrefix": prefix} if prefix else {})
            )
            for page in pages:
                for group in page.get("logGroups", []):
                    name = group["logGroupName"]
                    if (
                        name in seen
                        or name in self.settings.excluded
                        or not selects(entry, name)
                        or group.get("creationTime", 0) < created_after_ms
                    ):
                        continue
                    seen.add(name)
                    yield name

    def subscribe(self, created_after_ms: int = 0) -> Outcome:
        outcome = Outcome()
        for name in self.groups(created_after_ms):
            self.subscribe_group(name, outcome)
        logger.info(
            "log groups subscribed",
            extra={"subscribed": len(outcome.subscribed), "failed": outcome.failed},
        )
        return outcome

    def subscribe_group(self, name: str, outcome: Outcome) -> None:
        """Subscribe one log group (or replace the stack's filter on it) to everything."""
        arguments: dict[str, Any] = {
            "logGroupName": name,
            "filterName": self.settings.filter_name,
            "filterPattern": "",
            "destinationArn": self.settings.destination_arn,
        }
        if self.settings.role_arn:
            arguments["roleArn"] = self.settings.role_arn
            arguments["distribution"] = "Random"
        self._call(outcome, name, "put_subscription_filter", arguments, outcome.subscribed)

    def unsubscribe(self) -> Outcome:
        outcome = Outcome()
        for name in self.groups():
            arguments = {"logGroupName": name, "filterName": self.settings.filter_name}
            self._call(outcome, name, "delete_subscription_filter", arguments, outcome.removed)
        return outcome

    def _call(
        self,
        outcome: Outcome,
        name: str,
        operation: str,
        arguments: dict[str, Any],
        done: list[str],
    ) -> None:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                getattr(self.client, operation)(**arguments)
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                if code == "ResourceNotFoundException" and operation.startswith("delete"):
                    return  # nothing of ours there (any more)
                if code in ("ThrottlingException", "OperationAbortedException") and (
                    attempt < _ATTEMPTS
                ):
                    self.sleep(backoff_delay(attempt, base=0.2, cap=5.0))
                    continue
                # e.g. LimitExceededException: the group already has two filters.
                logger.warning(
                    "log group not changed",
                    extra={"logGroup": name, "operation": operation, "error": str(exc)},
                )
                outcome.failed[name] = str(exc)
                return
            done.append(name)
            return
