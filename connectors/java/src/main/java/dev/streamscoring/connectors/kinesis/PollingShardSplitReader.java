package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsErrors;

import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.Record;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;

/**
 * Reads the shards assigned to one reader with GetShardIterator/GetRecords, taking the shards in
 * turn. A caught-up shard is polled again after {@code source.polling.interval.ms}; a shard whose
 * iterator expired gets a new one after the last record read; a shard is finished when Kinesis
 * reports no next iterator (it was closed by a reshard and fully read). Throttled reads back off
 * and retry indefinitely; other transient errors back off exponentially and fail the reader after
 * {@value #MAX_CONSECUTIVE_FAILURES} in a row.
 */
final class PollingShardSplitReader implements SplitReader<Record, KinesisShardSplit> {

    private static final Logger LOG = LoggerFactory.getLogger(PollingShardSplitReader.class);

    /** Consecutive transient failures on one shard after which the reader fails. */
    private static final int MAX_CONSECUTIVE_FAILURES = 10;

    private static final long MAX_BACKOFF_MS = 10_000L;
    private static final long THROTTLE_BACKOFF_MS = 1_000L;

    private final KinesisStreamProxy proxy;
    private final int maxRecordsPerPoll;
    private final long idlePollIntervalMs;
    private final MetricGroup metricGroup;

    private final Object lock = new Object();

    /** Shards in polling order; the one polled last goes to the back. Guarded by {@link #lock}. */
    private final Deque<ShardCursor> cursors = new ArrayDeque<>();

    private boolean wakeUpRequested;

    PollingShardSplitReader(
            KinesisStreamProxy proxy,
            int maxRecordsPerPoll,
            long idlePollIntervalMs,
            MetricGroup metricGroup) {
        this.proxy = proxy;
        this.maxRecordsPerPoll = maxRecordsPerPoll;
        this.idlePollIntervalMs = idlePollIntervalMs;
        this.metricGroup = metricGroup;
    }

    @Override
    public RecordsWithSplitIds<Record> fetch() throws IOException {
        RecordsBySplits.Builder<Record> result = new RecordsBySplits.Builder<>();
        ShardCursor cursor;
        try {
            cursor = awaitNextDueShard();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return result.build();
        }
        if (cursor != null) {
            poll(cursor, result);
        }
        return result.build();
    }

    /** Blocks until a shard is due for polling; returns null when woken up or idle. */
    private ShardCursor awaitNextDueShard() throws InterruptedException {
        synchronized (lock) {
            while (true) {
                if (wakeUpRequested) {
                    wakeUpRequested = false;
                    return null;
                }
                if (cursors.isEmpty()) {
                    return null;
                }
                long now = System.currentTimeMillis();
                long earliest = Long.MAX_VALUE;
                Iterator<ShardCursor> it = cursors.iterator();
                while (it.hasNext()) {
                    ShardCursor cursor = it.next();
                    if (cursor.nextPollAtMs <= now) {
                        it.remove();
                        cursors.addLast(cursor);
                        return cursor;
                    }
                    earliest = Math.min(earliest, cursor.nextPollAtMs);
                }
                lock.wait(Math.max(1L, earliest - now));
            }
        }
    }

    private void poll(ShardCursor cursor, RecordsBySplits.Builder<Record> result)
            throws IOException {
        String shardId = cursor.split.getShardId();
        GetRecordsResponse response;
        try {
            if (cursor.iterator == null) {
                cursor.iterator = proxy.getShardIterator(shardId, cursor.resumePosition());
            }
            response = proxy.getRecords(cursor.iterator, maxRecordsPerPoll);
        } catch (ExpiredIteratorException e) {
            LOG.info("Shard iterator of {} expired; requesting a new one", shardId);
            cursor.iterator = null;
            return;
        } catch (RuntimeException e) {
            onPollFailure(cursor, e);
            return;
        }
        cursor.consecutiveFailures = 0;
        List<Record> records = response.records();
        LOG.debug(
                "GetRecords on {} returned {} records, {} ms behind latest",
                shardId,
                records.size(),
                response.millisBehindLatest());
        if (!records.isEmpty()) {
            cursor.lastReadSequenceNumber = records.get(records.size() - 1).sequenceNumber();
            result.addAll(shardId, records);
        }
        if (response.millisBehindLatest() != null) {
            cursor.millisBehindLatest = response.millisBehindLatest();
        }
        cursor.iterator = response.nextShardIterator();
        if (cursor.iterator == null) {
            LOG.info("Shard {} is closed and fully read", shardId);
            synchronized (lock) {
                cursors.remove(cursor);
            }
            result.addFinishedSplit(shardId);
            return;
        }
        boolean caughtUp =
                records.isEmpty() || Long.valueOf(0L).equals(response.millisBehindLatest());
        cursor.nextPollAtMs = caughtUp ? System.currentTimeMillis() + idlePollIntervalMs : 0L;
    }

    private void onPollFailure(ShardCursor cursor, RuntimeException error) throws IOException {
        String shardId = cursor.split.getShardId();
        if (AwsErrors.isThrottling(error)) {
            // The shard's read limit is shared with other consumers: wait, but never give up.
            LOG.debug("Reading shard {} was throttled; backing off", shardId);
            cursor.nextPollAtMs =
                    System.currentTimeMillis() + Math.max(THROTTLE_BACKOFF_MS, idlePollIntervalMs);
            return;
        }
        if (!AwsErrors.isRetryable(error)
                || ++cursor.consecutiveFailures > MAX_CONSECUTIVE_FAILURES) {
            throw new IOException(
                    "Reading shard "
                            + shardId
                            + " of "
                            + proxy.getStreamArn()
                            + " failed: "
                            + error.getMessage(),
                    error);
        }
        long backoffMs = Math.min(MAX_BACKOFF_MS, 250L << Math.min(cursor.consecutiveFailures, 6));
        LOG.warn(
                "Reading shard {} failed with a transient error ({}); retrying in {} ms",
                shardId,
                AwsErrors.errorCode(error),
                backoffMs);
        cursor.nextPollAtMs = System.currentTimeMillis() + backoffMs;
    }

    @Override
    public void handleSplitsChanges(SplitsChange<KinesisShardSplit> splitsChanges) {
        if (!(splitsChanges instanceof SplitsAddition)) {
            throw new UnsupportedOperationException(
                    "Unsupported splits change: " + splitsChanges.getClass().getSimpleName());
        }
        for (KinesisShardSplit split : splitsChanges.splits()) {
            ShardCursor cursor = new ShardCursor(split);
            metricGroup
                    .addGroup("shardId", split.getShardId())
                    .gauge("millisBehindLatest", (Gauge<Long>) () -> cursor.millisBehindLatest);
            synchronized (lock) {
                cursors.addLast(cursor);
            }
        }
    }

    @Override
    public void wakeUp() {
        synchronized (lock) {
            wakeUpRequested = true;
            lock.notifyAll();
        }
    }

    @Override
    public void close() {
        proxy.close();
    }

    /** Read progress of one shard inside the fetcher. */
    private static final class ShardCursor {
        final KinesisShardSplit split;
        String iterator;
        String lastReadSequenceNumber;
        long nextPollAtMs;
        int consecutiveFailures;
        volatile long millisBehindLatest = -1L;

        ShardCursor(KinesisShardSplit split) {
            this.split = split;
        }

        /** Where a new iterator starts: after the last record read, else the split's start. */
        StartingPosition resumePosition() {
            return lastReadSequenceNumber == null
                    ? split.getStartingPosition()
                    : StartingPosition.afterSequenceNumber(lastReadSequenceNumber);
        }
    }
}
