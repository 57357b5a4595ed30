"""The retry rules of Lambda's event source mappings, as pure functions.

The local pollers follow them against moto with the template's settings for each mapping
(local/template), and the reliability suite's model of a mapping
(tests/reliability/test_consumer_faults.py) follows the same ones with the defaults below,
so what the local stack does and what the fault matrix checks cannot drift apart. The
defaults are template.yaml's (tests/unit/test_template.py checks them against it).

Kinesis, per shard and in order (``ReportBatchItemFailures``, ``BisectBatchOnFunctionError``,
``MaximumRetryAttempts``):

- the batch succeeded: move on past its last record, with the full batch size again;
- some records failed (``batchItemFailures``): read again from the lowest failed sequence
  number (sequence numbers compare as numbers, not as the order of the list);
- the function failed (or named an empty identifier): read again from the batch's first
  record, with the batch halved;
- a batch that failed more than ``MaximumRetryAttempts`` times in a row is given up: it goes
  to the on-failure destination and the shard moves on past it.

SQS: the messages a batch response does not name are deleted; the named ones (all of them
when the function failed) are delivered again, until a message has been received
``maxReceiveCount`` times, when the queue's redrive policy moves it to the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import Enum

KINESIS_BATCH_SIZE = 100
KINESIS_MAX_RETRIES = 10
SQS_BATCH_SIZE = 10
SQS_MAX_RECEIVE_COUNT = 5


class Outcome(Enum):
    DONE = "done"
    RETRY = "retry"
    GIVE_UP = "give-up"


@dataclass(frozen=True, slots=True)
class ShardStep:
    """Where a shard goes after one invocation with a batch of its records."""

    outcome: Outcome
    #: Index in the batch where reading goes on: the batch's length moves past it.
    resume_at: int
    #: The most records of the next batch.
    batch_size: int
    #: Failed invocations in a row, this one included (0 when it succeeded).
    attempts: int

    @property
    def carried_attempts(self) -> int:
        """The count the next batch starts from: only a retry carries it on."""
        return self.attempts if self.outcome is Outcome.RETRY else 0


def lowest_failed(sequences: Sequence[str], failed: Collection[str]) -> int:
    """Index of the failed record with the lowest sequence number (the first record when
    none of the failed identifiers is in the batch)."""
    named = [n for n, sequence in enumerate(sequences) if sequence in failed]
    return min(named, key=lambda n: int(sequences[n]), default=0)


def after_kinesis_batch(
    sequences: Sequence[str],
    failed: Collection[str] | None,
    *,
    attempts: int,
    batch_size: int,
    full_batch_size: int = KINESIS_BATCH_SIZE,
    max_retries: int = KINESIS_MAX_RETRIES,
    bisect: bool = True,
) -> ShardStep:
    """The next step for a shard after one invocation.

    ``sequences``: the batch's sequence numbers in order; ``failed``: the identifiers the
    function named, None when the function itself failed; ``attempts``: failed invocations
    in a row before this one; ``batch_size``: the batch size in force for this invocation.
    """
    if failed is not None and not failed:
        return ShardStep(Outcome.DONE, len(sequences), full_batch_size, 0)
    attempts += 1
    if attempts > max_retries:
        return ShardStep(Outcome.GIVE_UP, len(sequences), full_batch_size, attempts)
    if failed is None:
        # BisectBatchOnFunctionError: the same first record, half the records.
        size = max(1, len(sequences) // 2) if bisect else batch_size
        return ShardStep(Outcome.RETRY, 0, size, attempts)
    return ShardStep(Outcome.RETRY, lowest_failed(sequences, failed), batch_size, attempts)


def split_sqs_batch[Item](
    batch: Sequence[Item], failed: Collection[str] | None, message_id: Callable[[Item], str]
) -> tuple[list[Item], list[Item]]:
    """(deleted, delivered again): the messages of a batch after one invocation."""
    if failed is None:
        return [], list(batch)
    deleted = [item for item in batch if message_id(item) not in failed]
    again = [item for item in batch if message_id(item) in failed]
    return deleted, again


def dead_lettered(receive_count: int, max_receive_count: int = SQS_MAX_RECEIVE_COUNT) -> bool:
    """Whether a message that failed after its ``receive_count``-th receive goes to the
    dead-letter queue instead of being delivered again."""
    return receive_count >= max_receive_count
