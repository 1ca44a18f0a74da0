package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsErrors;

import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.apache.flink.metrics.Gauge;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.model.ChildShard;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.Record;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the shards assigned to one reader with GetShardIterator/GetRecords, taking the shards in
 * turn, at most {@value #MIN_GET_RECORDS_INTERVAL_MS} ms apart per shard (the Kinesis limit of 5
 * GetRecords calls a second per shard). A caught-up shard is polled again after the empty-records
 * fetch interval.
 *
 * <p>A shard closed by a reshard and read to its end (no next iterator) whose children Kinesis
 * names is not finished at once but held: it is no longer polled, is announced through {@link
 * ShardHolds} once the records of its last fetch were emitted, and is finished when the source
 * reader releases it or, failing that, after the hold timeout. A closed shard without named
 * children is finished at once, and so is a shard Kinesis reports as not found (with its stream);
 * the latter is logged once at WARN and its id put into the set shared with {@link
 * KinesisSourceReader}, which tells the enumerator. An expired iterator is replaced by one after
 * the last record read. Throttled calls back off exponentially and are retried for ever; other
 * transient errors back off too and fail the reader after {@value #MAX_CONSECUTIVE_FAILURES} in a
 * row on one shard. Paused shards (watermark alignment) are not polled until resumed.
 */
final class PollingShardSplitReader implements SplitReader<Record, KinesisShardSplit> {

    private static final Logger LOG = LoggerFactory.getLogger(PollingShardSplitReader.class);

    static final long MIN_GET_RECORDS_INTERVAL_MS = 200L;

    /** Consecutive transient failures on one shard after which the reader fails. */
    static final int MAX_CONSECUTIVE_FAILURES = 10;

    private static final long DEFAULT_BACKOFF_BASE_MS = 250L;
    private static final long DEFAULT_MAX_BACKOFF_MS = 10_000L;

    private final KinesisStreamProxy proxy;
    private final int maxRecordsPerPoll;
    private final long emptyRecordsFetchIntervalMs;
    private final KinesisReaderMetrics metrics;
    private final Set<String> vanishedShardIds;
    private final long backoffBaseMs;
    private final long maxBackoffMs;
    private final ShardHolds holds;
    private final long holdTimeoutMs;

    private final Object lock = new Object();

    /** Shards in polling order; the one polled last goes to the back. Guarded by {@link #lock}. */
    private final Deque<ShardCursor> cursors = new ArrayDeque<>();

    /** Guarded by {@link #lock}. */
    private final Set<String> pausedShardIds = new HashSet<>();

    /**
     * Drained shards kept open, to the time (ms) they are finished at the latest. Guarded by
     * {@link #lock}.
     */
    private final Map<String, Long> heldUntilMs = new LinkedHashMap<>();

    private boolean wakeUpRequested;

    /**
     * @param vanishedShardIds receives the ids of shards finished because Kinesis did not find
     *     them; shared with the source reader
     * @param holds shared with the source reader: drained shards are announced there and released
     *     from there
     * @param holdTimeoutMs how long a drained shard is held at most
     */
    PollingShardSplitReader(
            KinesisStreamProxy proxy,
            int maxRecordsPerPoll,
            long emptyRecordsFetchIntervalMs,
            KinesisReaderMetrics metrics,
            Set<String> vanishedShardIds,
            ShardHolds holds,
            long holdTimeoutMs) {
        this(
                proxy,
                maxRecordsPerPoll,
                emptyRecordsFetchIntervalMs,
                metrics,
                vanishedShardIds,
                holds,
                holdTimeoutMs,
                DEFAULT_BACKOFF_BASE_MS,
                DEFAULT_MAX_BACKOFF_MS);
    }

    PollingShardSplitReader(
            KinesisStreamProxy proxy,
            int maxRecordsPerPoll,
            long emptyRecordsFetchIntervalMs,
            KinesisReaderMetrics metrics,
            Set<String> vanishedShardIds,
            ShardHolds holds,
            long holdTimeoutMs,
            long backoffBaseMs,
            long maxBackoffMs) {
        this.proxy = proxy;
        this.maxRecordsPerPoll = maxRecordsPerPoll;
        this.emptyRecordsFetchIntervalMs = emptyRecordsFetchIntervalMs;
        this.metrics = metrics;
        this.vanishedShardIds = vanishedShardIds;
        this.backoffBaseMs = backoffBaseMs;
        this.maxBackoffMs = maxBackoffMs;
        this.holds = holds;
        this.holdTimeoutMs = holdTimeoutMs;
        holds.onRelease(
                () -> {
                    synchronized (lock) {
                        lock.notifyAll();
                    }
                });
    }

    @Override
    public RecordsWithSplitIds<Record> fetch() throws IOException {
        RecordsBySplits.Builder<Record> result = new RecordsBySplits.Builder<>();
        List<ShardHolds.Drained> drained = new ArrayList<>();
        ShardCursor cursor;
        try {
            cursor = awaitNextDueShard();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return result.build();
        }
        finishEndedHolds(result);
        if (cursor != null) {
            poll(cursor, result, drained);
        }
        return drained.isEmpty()
                ? result.build()
                : new DrainingFetch(result.build(), drained, holds);
    }

    /** Blocks until a shard is due for polling; returns null when woken up or without shards. */
    private ShardCursor awaitNextDueShard() throws InterruptedException {
        synchronized (lock) {
            while (true) {
                if (wakeUpRequested) {
                    wakeUpRequested = false;
                    return null;
                }
                long now = System.currentTimeMillis();
                if (anyHoldEnded(now) || (cursors.isEmpty() && heldUntilMs.isEmpty())) {
                    return null;
                }
                long earliest = Long.MAX_VALUE;
                for (long until : heldUntilMs.values()) {
                    earliest = Math.min(earliest, until);
                }
                Iterator<ShardCursor> it = cursors.iterator();
                while (it.hasNext()) {
                    ShardCursor cursor = it.next();
                    if (pausedShardIds.contains(cursor.shardId)) {
                        continue;
                    }
                    if (cursor.nextPollAtMs <= now) {
                        it.remove();
                        cursors.addLast(cursor);
                        return cursor;
                    }
                    earliest = Math.min(earliest, cursor.nextPollAtMs);
                }
                // With every shard paused or held this waits for a resume, release or wake-up.
                lock.wait(earliest == Long.MAX_VALUE ? 0L : Math.max(1L, earliest - now));
            }
        }
    }

    /** Whether a held shard was released or held for too long; called holding {@link #lock}. */
    private boolean anyHoldEnded(long now) {
        for (Map.Entry<String, Long> held : heldUntilMs.entrySet()) {
            if (held.getValue() <= now || holds.isReleased(held.getKey())) {
                return true;
            }
        }
        return false;
    }

    private void finishEndedHolds(RecordsBySplits.Builder<Record> result) {
        List<String> ended = new ArrayList<>();
        synchronized (lock) {
            long now = System.currentTimeMillis();
            Iterator<Map.Entry<String, Long>> it = heldUntilMs.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<String, Long> held = it.next();
                String shardId = held.getKey();
                if (holds.takeRelease(shardId)) {
                    ended.add(shardId);
                    it.remove();
                } else if (held.getValue() <= now) {
                    LOG.info(
                            "Shard {} was held open {} ms after it was read to its end without"
                                    + " its children being assigned; finishing it",
                            shardId,
                            holdTimeoutMs);
                    ended.add(shardId);
                    it.remove();
                }
            }
        }
        for (String shardId : ended) {
            metrics.unregisterShard(shardId);
            result.addFinishedSplit(shardId);
        }
    }

    private void poll(
            ShardCursor cursor,
            RecordsBySplits.Builder<Record> result,
            List<ShardHolds.Drained> drained)
            throws IOException {
        String shardId = cursor.shardId;
        GetRecordsResponse response;
        boolean gettingIterator = cursor.iterator == null;
        try {
            if (gettingIterator) {
                cursor.iterator = proxy.getShardIterator(shardId, cursor.resumePosition());
                gettingIterator = false;
            }
            cursor.lastGetRecordsAtMs = System.currentTimeMillis();
            response = proxy.getRecords(cursor.iterator, maxRecordsPerPoll);
        } catch (RuntimeException e) {
            onPollFailure(cursor, e, gettingIterator, result);
            return;
        }
        cursor.consecutiveFailures = 0;
        cursor.consecutiveThrottles = 0;
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
            Set<String> children = new LinkedHashSet<>();
            if (response.hasChildShards()) {
                for (ChildShard child : response.childShards()) {
                    children.add(child.shardId());
                }
            }
            if (children.isEmpty()) {
                LOG.info("Shard {} is closed and fully read", shardId);
                finish(cursor, result);
            } else {
                LOG.info(
                        "Shard {} is closed and fully read; keeping it open until its children"
                                + " {} are assigned",
                        shardId,
                        children);
                hold(cursor);
                drained.add(new ShardHolds.Drained(shardId, children));
            }
            return;
        }
        // A full page is never taken as caught up: kinesalite answers 0 ms behind on every call.
        boolean caughtUp =
                records.isEmpty()
                        || (records.size() < maxRecordsPerPoll
                                && Long.valueOf(0L).equals(response.millisBehindLatest()));
        schedule(cursor, caughtUp ? emptyRecordsFetchIntervalMs : 0L);
    }

    private void onPollFailure(
            ShardCursor cursor,
            RuntimeException error,
            boolean gettingIterator,
            RecordsBySplits.Builder<Record> result)
            throws IOException {
        String shardId = cursor.shardId;
        if (KinesisErrors.isResourceNotFound(error)) {
            LOG.warn(
                    "Shard {} of {} is not found ({}); finishing it without reading further",
                    shardId,
                    proxy.getStreamArn(),
                    error.getMessage());
            metrics.shardsNotFound.inc();
            vanishedShardIds.add(shardId);
            finish(cursor, result);
            return;
        }
        if (KinesisErrors.isExpiredIterator(error)) {
            LOG.info("Shard iterator of {} expired; requesting a new one", shardId);
            metrics.expiredIterators.inc();
            cursor.iterator = null;
            schedule(cursor, 0L);
            return;
        }
        if (KinesisErrors.isThrottled(error)) {
            // The shard's read limits are shared with other consumers: wait, but never give up.
            (gettingIterator ? metrics.getShardIteratorThrottled : metrics.getRecordsThrottled)
                    .inc();
            cursor.consecutiveThrottles++;
            long backoffMs = backoff(cursor.consecutiveThrottles);
            LOG.debug("Reading shard {} was throttled; retrying in {} ms", shardId, backoffMs);
            schedule(cursor, backoffMs);
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
        metrics.getRecordsRetries.inc();
        long backoffMs = backoff(cursor.consecutiveFailures);
        LOG.warn(
                "Reading shard {} failed with a transient error ({}); retrying in {} ms",
                shardId,
                AwsErrors.errorCode(error),
                backoffMs);
        schedule(cursor, backoffMs);
    }

    private long backoff(int attempt) {
        return Math.min(maxBackoffMs, backoffBaseMs << Math.min(attempt - 1, 10));
    }

    /** Sets when the shard is polled next: after a delay, and never sooner than the rate limit. */
    private static void schedule(ShardCursor cursor, long delayMs) {
        long now = System.currentTimeMillis();
        cursor.nextPollAtMs =
                Math.max(now + delayMs, cursor.lastGetRecordsAtMs + MIN_GET_RECORDS_INTERVAL_MS);
    }

    private void hold(ShardCursor cursor) {
        synchronized (lock) {
            cursors.remove(cursor);
            pausedShardIds.remove(cursor.shardId);
            heldUntilMs.put(cursor.shardId, System.currentTimeMillis() + holdTimeoutMs);
        }
    }

    private void finish(ShardCursor cursor, RecordsBySplits.Builder<Record> result) {
        synchronized (lock) {
            cursors.remove(cursor);
            pausedShardIds.remove(cursor.shardId);
        }
        metrics.unregisterShard(cursor.shardId);
        result.addFinishedSplit(cursor.shardId);
    }

    @Override
    public void handleSplitsChanges(SplitsChange<KinesisShardSplit> splitsChanges) {
        if (!(splitsChanges instanceof SplitsAddition)) {
            throw new UnsupportedOperationException(
                    "Unsupported splits change: " + splitsChanges.getClass().getSimpleName());
        }
        for (KinesisShardSplit split : splitsChanges.splits()) {
            ShardCursor cursor = new ShardCursor(split);
            metrics.registerShard(
                    split.getShardId(), (Gauge<Long>) () -> cursor.millisBehindLatest);
            // A release left over from an earlier shard of the same id must not end this one.
            holds.takeRelease(split.getShardId());
            synchronized (lock) {
                cursors.addLast(cursor);
            }
        }
    }

    @Override
    public void pauseOrResumeSplits(
            Collection<KinesisShardSplit> splitsToPause,
            Collection<KinesisShardSplit> splitsToResume) {
        synchronized (lock) {
            for (KinesisShardSplit split : splitsToPause) {
                pausedShardIds.add(split.getShardId());
            }
            for (KinesisShardSplit split : splitsToResume) {
                pausedShardIds.remove(split.getShardId());
            }
            lock.notifyAll();
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
        metrics.unregisterAll();
        proxy.close();
    }

    /**
     * A fetch that read shards to their end: once its records are emitted (the source reader then
     * recycles it, in the task thread), the shards are announced, so that a checkpoint taken after
     * the announcement has each of them at its end.
     */
    private static final class DrainingFetch implements RecordsWithSplitIds<Record> {
        private final RecordsWithSplitIds<Record> records;
        private final List<ShardHolds.Drained> drained;
        private final ShardHolds holds;

        DrainingFetch(
                RecordsWithSplitIds<Record> records,
                List<ShardHolds.Drained> drained,
                ShardHolds holds) {
            this.records = records;
            this.drained = drained;
            this.holds = holds;
        }

        @Override
        public String nextSplit() {
            return records.nextSplit();
        }

        @Override
        public Record nextRecordFromSplit() {
            return records.nextRecordFromSplit();
        }

        @Override
        public Set<String> finishedSplits() {
            return records.finishedSplits();
        }

        @Override
        public void recycle() {
            records.recycle();
            drained.forEach(holds::drained);
        }
    }

    /** Read progress of one shard inside the fetcher. */
    private static final class ShardCursor {
        final KinesisShardSplit split;
        final String shardId;
        String iterator;
        String lastReadSequenceNumber;
        long nextPollAtMs;
        long lastGetRecordsAtMs = Long.MIN_VALUE / 2;
        int consecutiveFailures;
        int consecutiveThrottles;
        volatile long millisBehindLatest = -1L;

        ShardCursor(KinesisShardSplit split) {
            this.split = split;
            this.shardId = split.getShardId();
        }

        /** Where a new iterator starts: after the last record read, else the split's start. */
        StartingPosition resumePosition() {
            return lastReadSequenceNumber == null
                    ? split.getStartingPosition()
                    : StartingPosition.afterSequenceNumber(lastReadSequenceNumber);
        }
    }
}
