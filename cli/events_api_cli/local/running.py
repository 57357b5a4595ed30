"""The stack while ``events-api dev`` runs it: workers, log agents, gateway, pollers, schedules.

Everything is started from the template's view of the stack (``Stack``): which functions
exist and how they are wired. A function is started when something invokes it: a route or
function URL, an event source mapping, or a schedule. The compactor's work is Athena's in
AWS; when its schedule fires here, DuckDB does Athena's part with the compactor's role
(local/compaction.py), and the Athena and Glue calls it would make are not made.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from .api_gateway import FrontDoor
from .compaction import ScheduledCompaction
from .deploy import Deployed
from .function_logs import FunctionLogs
from .gateway import Gateway, GatewayServer, GatewayThread
from .iam.enforcer import Authority, Credentials
from .lambda_runtime import Function as Invocable
from .lambda_worker import WorkerFunction
from .log_subscriptions import LocalLogSubscriptions, account_subscription, destination_function
from .poller import KinesisPoller, Poller, SqsPoller
from .runtime import (
    differences,
    function_environment,
    gateway_routes,
    refused_mapping_actions,
    role_client,
    role_policies,
    route_functions,
    source_kind,
)
from .scheduler import LocalSchedule
from .template.stack import Function, Stack

log = logging.getLogger("events_api_cli.dev")

#: Functions whose work the local stack does itself when their schedule fires, by the
#: folder of their code: what they do needs a service moto cannot run (Athena's engine).
STAND_INS = {"compactor": "Athena's statements are run by DuckDB over a local copy"}


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class RunningStack:
    def __init__(
        self,
        stack: Stack,
        authority: Authority,
        endpoint: str,
        deployed: Deployed,
        schedule_every: float | None,
    ) -> None:
        self.stack, self.authority, self.endpoint = stack, authority, endpoint
        self.schedule_every = schedule_every
        self.workers: dict[str, WorkerFunction] = {}
        self.logs: dict[str, FunctionLogs] = {}
        self.pollers: list[Poller] = []
        self.schedules: list[LocalSchedule] = []
        self.compactions: list[ScheduledCompaction] = []
        self.gateway: GatewayThread | None = None
        self.log_subscriptions: LocalLogSubscriptions | None = None
        self.differences = differences(stack, deployed, schedule_every)
        subscription = account_subscription(stack)
        if subscription is not None:
            how = (
                "moto delivers to the stream"
                if ":kinesis:" in subscription.destination_arn
                else "a local stream stands between the filters and the function's invocations"
            )
            self.differences.append(
                f"{subscription.logical_id}: a subscriber thread puts its filter on each new log "
                f"group within a second ({how})"
            )
        for function in stack.functions.values():
            if ":function:" in function.environment.get("LOG_DESTINATION_ARN", ""):
                self.differences.append(
                    f"{function.logical_id}: its subscription filters name a function, which "
                    "moto's CloudWatch Logs cannot deliver to (LogSubscription LogGroups needs "
                    "BufferType Kinesis locally)"
                )
            if function.code.name in STAND_INS:
                self.differences.append(
                    f"{function.logical_id}: {STAND_INS[function.code.name]}; its S3 calls "
                    "are made with its role, its Athena and Glue calls are not made"
                )

    @property
    def invocables(self) -> dict[str, Invocable]:
        return dict(self.workers)

    # -- credentials --------------------------------------------------------------------
    def credentials(self, function: Function, session: str) -> Credentials:
        role = function.role
        return self.authority.mint(role.logical_id, role.arn, session, role_policies(role))

    def client(self, service: str, credentials: Credentials) -> Any:
        return role_client(service, self.endpoint, credentials, self.stack.region)

    def _client_maker(self, service: str, credentials: Credentials) -> Callable[[], Any]:
        made: list[Any] = []

        def client() -> Any:
            if not made:
                made.append(self.client(service, credentials))
            return made[0]

        return client

    # -- functions ----------------------------------------------------------------------
    def _invoked(self) -> set[str]:
        wired = {route.function for route in self.stack.routes}
        wired |= {url.function for url in self.stack.function_urls.values()}
        wired |= {m.function for m in self.stack.event_source_mappings.values() if m.enabled}
        forwarder = destination_function(self.stack)
        if forwarder is not None:
            wired.add(forwarder.logical_id)
        for schedule in self.stack.schedules.values():
            target = self.stack.function_by_arn(schedule.target_arn)
            if target is not None and target.code.name not in STAND_INS:
                wired.add(target.logical_id)
        return wired

    def start_functions(self) -> str | None:
        """Start a worker per invoked function; the refusal CloudFormation would give when
        an event source mapping's role cannot read its source, else None."""
        for function in self.stack.functions.values():
            if "lambda.amazonaws.com" not in function.role.trusted_services:
                return (
                    f"{function.logical_id}: its role {function.role.logical_id} does not let "
                    "lambda.amazonaws.com assume it"
                )
        for mapping in self.stack.event_source_mappings.values():
            role = self.stack.functions[mapping.function].role
            refused = refused_mapping_actions(
                self.authority, mapping, role, f"lambda-esm-{mapping.uuid[:8]}"
            )
            if refused:
                return (
                    f"{mapping.logical_id}: the execution role {role.logical_id} does not allow "
                    f"{', '.join(refused)} on {mapping.source_arn}"
                )
        for logical_id in sorted(self._invoked()):
            function = self.stack.functions[logical_id]
            logs_credentials = self.credentials(function, "lambda-logs")
            agent = FunctionLogs(
                function.name,
                function.log_group,
                self._client_maker("logs", logs_credentials),
                _echo,
            )
            worker = WorkerFunction(
                function.name,
                function.code,
                function.handler,
                function.timeout_seconds,
                function.memory_mb,
                environment=function_environment(
                    function,
                    self.credentials(function, function.name),
                    self.endpoint,
                    self.stack.region,
                ),
                layers=function.layers,
                output=agent,
                function_arn=function.arn,
            )
            self.logs[logical_id] = agent
            self.workers[logical_id] = worker.start()
        return None

    def serve_gateway(
        self,
        host: str,
        port: int,
        front_door: FrontDoor,
        access_log: Callable[[str, str, str, int, float], None],
    ) -> GatewayServer:
        from . import invoke_permissions

        invocable: dict[str, Invocable] = dict(self.workers)
        refused = invoke_permissions.refusals(self.stack, front_door, route_functions(self.stack))
        for route_key, why in refused.items():
            log.warning("the front door will refuse %s: %s", route_key, why)
        gateway = Gateway(
            gateway_routes(self.stack, invocable),
            api_id=self.stack.http_api_id or None,
            front_door=front_door,
            refused=refused,
        )
        server = GatewayServer((host, port), gateway, access_log)
        self.gateway = GatewayThread(server)
        self.gateway.start()
        return server

    def start_pollers_and_schedules(self) -> None:
        """Raises log_subscriptions.SubscriptionRefused as CloudWatch Logs would refuse."""
        from . import log_subscriptions, moto_aws

        self.log_subscriptions = log_subscriptions.start(self)

        for mapping in self.stack.event_source_mappings.values():
            if not mapping.enabled:
                continue
            function = self.stack.functions[mapping.function]
            credentials = self.credentials(function, f"lambda-esm-{mapping.uuid[:8]}")
            poller: Poller
            if source_kind(mapping) == "kinesis":
                poller = KinesisPoller(
                    self.client("kinesis", credentials),
                    self.client("s3", credentials),
                    mapping,
                    self.workers[mapping.function],
                    function.role.arn,
                )
            else:
                queue = next(q for q in self.stack.queues.values() if q.arn == mapping.source_arn)
                poller = SqsPoller(
                    self.client("sqs", credentials),
                    queue.url,
                    mapping,
                    self.workers[mapping.function],
                    retry_sqs=moto_aws.client("sqs", self.endpoint),
                )
            poller.start()
            self.pollers.append(poller)
        if self.schedule_every == 0:
            return
        for schedule in self.stack.schedules.values():
            target = self.stack.function_by_arn(schedule.target_arn)
            role = next((r for r in self.stack.roles.values() if r.arn == schedule.role_arn), None)
            if target is None or role is None:
                log.warning(
                    "%s: its target or role is not of this stack; not run", schedule.logical_id
                )
                continue
            run: Callable[[], None]
            if target.code.name in STAND_INS:
                compaction = ScheduledCompaction(
                    target.environment, self.client("s3", self.credentials(target, target.name))
                )
                self.compactions.append(compaction)
                run = compaction
            else:
                run = _invoker(self.workers[target.logical_id])
            local = LocalSchedule(schedule, role, self.authority, run, every=self.schedule_every)
            local.start()
            self.schedules.append(local)

    # -- stop ---------------------------------------------------------------------------
    def fault_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for worker in self.workers.values():
            for fault, value in worker.fault_counts.items():
                counts[fault] = counts.get(fault, 0) + value
        return counts

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        for poller in self.pollers:
            poller.stop()
        if self.log_subscriptions is not None:
            self.log_subscriptions.stop()
        for schedule in self.schedules:
            schedule.stop()
        for compaction in self.compactions:
            compaction.close()
        for worker in self.workers.values():
            worker.stop()
        for agent in self.logs.values():
            agent.stop()


def _invoker(worker: WorkerFunction) -> Callable[[], None]:
    def invoke() -> None:
        worker.invoke({})  # a schedule without Input sends an empty event

    return invoke
