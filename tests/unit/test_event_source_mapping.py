"""The event source mappings' retry rules: checkpoints, bisection, giving up, redelivery."""

from __future__ import annotations

import pytest

from events_api_cli.local.event_source_mapping import (
    KINESIS_BATCH_SIZE,
    KINESIS_MAX_RETRIES,
    SQS_MAX_RECEIVE_COUNT,
    Outcome,
    ShardStep,
    after_kinesis_batch,
    dead_lettered,
    lowest_failed,
    split_sqs_batch,
)

pytestmark = pytest.mark.unit

SEQUENCES = ["98", "99", "100", "101"]


def test_a_batch_without_failures_moves_past_its_last_record_at_full_size() -> None:
    step = after_kinesis_batch(SEQUENCES, set(), attempts=3, batch_size=2)
    assert step == ShardStep(Outcome.DONE, 4, KINESIS_BATCH_SIZE, 0)
    assert step.carried_attempts == 0


def test_failed_records_are_read_again_from_the_lowest_sequence_number_as_a_number() -> None:
    # "100" < "99" as text; Lambda compares sequence numbers as numbers.
    step = after_kinesis_batch(SEQUENCES, {"101", "100", "99"}, attempts=0, batch_size=4)
    assert step == ShardStep(Outcome.RETRY, 1, 4, 1)
    assert step.carried_attempts == 1


def test_a_partial_failure_keeps_the_batch_size_in_force() -> None:
    step = after_kinesis_batch(SEQUENCES, {"101"}, attempts=1, batch_size=2)
    assert step == ShardStep(Outcome.RETRY, 3, 2, 2)


def test_failed_identifiers_outside_the_batch_retry_it_from_its_first_record() -> None:
    assert lowest_failed(SEQUENCES, {"7"}) == 0
    assert after_kinesis_batch(SEQUENCES, {"7"}, attempts=0, batch_size=4).resume_at == 0


def test_a_function_error_retries_the_same_first_record_with_half_the_batch() -> None:
    assert after_kinesis_batch(SEQUENCES, None, attempts=0, batch_size=100) == ShardStep(
        Outcome.RETRY, 0, 2, 1
    )
    assert after_kinesis_batch(["5"], None, attempts=2, batch_size=1) == ShardStep(
        Outcome.RETRY, 0, 1, 3
    )


def test_a_batch_is_given_up_after_the_maximum_retry_attempts() -> None:
    last_retry = after_kinesis_batch(
        SEQUENCES, None, attempts=KINESIS_MAX_RETRIES - 1, batch_size=4
    )
    assert last_retry.outcome is Outcome.RETRY
    assert last_retry.attempts == KINESIS_MAX_RETRIES
    step = after_kinesis_batch(SEQUENCES, {"99"}, attempts=KINESIS_MAX_RETRIES, batch_size=4)
    assert step == ShardStep(Outcome.GIVE_UP, 4, KINESIS_BATCH_SIZE, KINESIS_MAX_RETRIES + 1)
    assert step.carried_attempts == 0


def test_sqs_deletes_what_the_response_does_not_name_and_delivers_the_rest_again() -> None:
    batch = [{"messageId": "a"}, {"messageId": "b"}, {"messageId": "c"}]
    deleted, again = split_sqs_batch(batch, {"b"}, lambda m: m["messageId"])
    assert (deleted, again) == ([batch[0], batch[2]], [batch[1]])
    assert split_sqs_batch(batch, set(), lambda m: m["messageId"]) == (batch, [])


def test_sqs_delivers_the_whole_batch_again_when_the_function_failed() -> None:
    batch = ["a", "b"]
    assert split_sqs_batch(batch, None, str) == ([], ["a", "b"])


def test_a_message_goes_to_the_dead_letter_queue_after_max_receive_count_receives() -> None:
    assert not dead_lettered(SQS_MAX_RECEIVE_COUNT - 1)
    assert dead_lettered(SQS_MAX_RECEIVE_COUNT)
    assert dead_lettered(3, max_receive_count=3)
