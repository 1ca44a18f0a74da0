"""A deleted input stream: the job reading it keeps running, and reads the stream again once it is
created anew under the same name.

Kinesis answers ResourceNotFoundException for the shards of a deleted stream and for ListShards on
it. The source ends those shards' splits (one WARN each) and its shard discovery keeps looking for
the stream, without failing the job: no restart, and what the job committed before stays, once.
A stream created again under the same name has the same ARN and the same shard ids, but new
records: the decided behaviour is that the source reads those shards again from TRIM_HORIZON when
discovery lists them again, so every record put into the new stream arrives.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import settled, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import CaseRun, job_health, wait_for_checkpoint
from tests.reliability.test_latest import StreamShards, payloads, put_closing, two_shard_run

BEFORE = 300
AFTER = 200
# Records 0 .. 199 lie in the first two one-second windows, which close before the deletion.
CLOSED_BEFORE = 200
# Checkpoints to wait for after the deletion, the job being RUNNING without a restart all along.
QUIET_CHECKPOINTS = 5
VANISHED = re.compile(r" WARN .* Shard (shardId-\d+) of \S+ is not found")
STREAM_MISSING = re.compile(r" WARN .* Stream \S+ is not found; looking for it again")
LISTED_AGAIN = re.compile(r" WARN .* Shard (shardId-\d+) of \S+ is listed again after it vanished")


def log_matches(run: CaseRun, pattern: re.Pattern[str]) -> list[str]:
    """The lines of the job's Flink log that match ``pattern``."""
    lines: list[str] = []
    for path in sorted((run.directory / "flink-log").glob("*.log")):
        lines.extend(line for line in path.read_text(errors="replace").splitlines() if pattern.search(line))
    return lines


def put_on_both(run: CaseRun, shards: StreamShards, indexes: range) -> dict[str, list[str]]:
    """Put records ``indexes`` alternately on the two shards, in index order on each; their sequence numbers
    by shard."""
    kinesis = run.aws.client("kinesis")
    return {
        shards.ids[shard]: shards.put(kinesis, shard, payloads(run.records, indexes[shard::2]))
        for shard in range(len(shards.ids))
    }


@pytest.mark.full
def test_deleted_stream_keeps_the_job_running_and_its_recreation_is_read(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    options = {"kinesis.source": {"init.position": "TRIM_HORIZON", "shard.discovery.interval": "1 s"}}
    count = BEFORE + AFTER
    with two_shard_run(local_aws, tmp_path, "deleted", options, inference_mode=None) as (run, shards):
        kinesis = local_aws.client("kinesis")
        stream = run.config.source.stream_name
        arn_before = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
        port = free_port()
        with run.job(port, 1000):
            sequences_before = put_on_both(run, shards, range(BEFORE))
            wait_until(
                lambda: run.outputs.account(run.records, CLOSED_BEFORE).complete(run.records),
                120,
                "the first windows committed",
            )
            committed_before = run.outputs.account(run.records, count)

            kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
            wait_until(
                lambda: len(log_matches(run, VANISHED)) >= len(shards.ids) and log_matches(run, STREAM_MISSING),
                60,
                "the source to find the shards and the stream gone",
            )
            # A while without the stream: the job runs on, checkpoints, and does not restart.
            quiet = [job_health(port)]
            for _ in range(QUIET_CHECKPOINTS):
                quiet.append(wait_for_checkpoint(port, quiet[-1].completed_checkpoints, 60))
            committed_while_missing = run.outputs.account(run.records, count)
            vanished_warnings = log_matches(run, VANISHED)
            missing_warnings = log_matches(run, STREAM_MISSING)

            kinesis.create_stream(StreamName=stream, ShardCount=2)
            wait_until(
                lambda: (
                    kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
                    == "ACTIVE"
                ),
                30,
                "the stream ACTIVE again",
            )
            arn_after = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
            shards_after = StreamShards.of(kinesis, stream)
            sequences_after = put_on_both(run, shards_after, range(BEFORE, count))
            put_closing(run, shards_after, count)
            settled(lambda: run.outputs.account(run.records, count).complete(run.records), 180, "every id committed")
            # One more commit: a duplicate would show up by now.
            health = wait_for_checkpoint(port, job_health(port).completed_checkpoints, 60)
            accounting = run.outputs.account(run.records, count)
            listed_again = log_matches(run, LISTED_AGAIN)

    accounting.fill(case, run.records, count)
    case.faults_injected = 1 + run.records.malformed_count(count)  # the deletion, the malformed records
    after_ids = [run.records.id(index) for index in range(BEFORE, count)]
    received_after = sum(1 for name in after_ids if accounting.occurrences[name] > 0)
    case.details.update(
        {
            "shards_before": list(shards.ids),
            "shards_after": list(shards_after.ids),
            "same_arn": arn_after == arn_before,
            "sequence_numbers_before": {shard: [s[0], s[-1]] for shard, s in sequences_before.items()},
            "sequence_numbers_after": {shard: [s[0], s[-1]] for shard, s in sequences_after.items()},
            "committed_before_delete": len(committed_before.occurrences),
            "committed_while_missing": len(committed_while_missing.occurrences),
            "restarts": max(h.restarts for h in [*quiet, health]),
            "states_while_missing": sorted({h.state for h in quiet}),
            "checkpoints_while_missing": quiet[-1].completed_checkpoints - quiet[0].completed_checkpoints,
            "vanished_warnings": len(vanished_warnings),
            "stream_missing_warnings": len(missing_warnings),
            "listed_again_warnings": len(listed_again),
            "records_after_recreate": len(after_ids),
            "received_after_recreate": received_after,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )

    assert shards_after.ids == shards.ids and arn_after == arn_before
    assert case.details["states_while_missing"] == ["RUNNING"]
    assert case.details["restarts"] == 0 and (health.state, health.restores) == ("RUNNING", 0)
    # Each shard's end is logged once at WARN, and so is the stream's absence.
    assert sorted(VANISHED.search(line).group(1) for line in vanished_warnings) == sorted(shards.ids)  # type: ignore[union-attr]
    assert len(missing_warnings) == 1
    # Nothing committed before the deletion went missing or doubled while the stream was gone.
    assert set(committed_before.occurrences) <= set(committed_while_missing.occurrences)
    assert committed_while_missing.duplicated == []
    # The recreated stream's shards are read again from TRIM_HORIZON.
    assert sorted(LISTED_AGAIN.search(line).group(1) for line in listed_again) == sorted(shards.ids)  # type: ignore[union-attr]
    assert (case.details["records_after_recreate"], received_after) == (AFTER, AFTER)
    accounting.assert_exactly_once(run.records)
    assert set(committed_before.occurrences) <= set(accounting.occurrences)
