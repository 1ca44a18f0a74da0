package dev.streamscoring.connectors.kinesis;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.groups.AbstractMetricGroup;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Metrics of one source reader. Counters of retried reads sit on the reader's metric group; each
 * shard being read has a {@code millisBehindLatest} gauge in the group {@code
 * KinesisStreamSource.accountId.<account>.region.<region>.stream.<name>.shardId.<shard id>}, as in
 * the official connector, which is closed when the shard is finished.
 */
final class KinesisReaderMetrics {

    static final String SOURCE_GROUP = "KinesisStreamSource";
    static final String ACCOUNT_ID_GROUP = "accountId";
    static final String REGION_GROUP = "region";
    static final String STREAM_GROUP = "stream";
    static final String SHARD_GROUP = "shardId";
    static final String MILLIS_BEHIND_LATEST = "millisBehindLatest";

    static final String GET_RECORDS_THROTTLED = "getRecordsThrottled";
    static final String GET_SHARD_ITERATOR_THROTTLED = "getShardIteratorThrottled";
    static final String EXPIRED_ITERATORS = "expiredIterators";
    static final String GET_RECORDS_RETRIES = "getRecordsRetries";
    static final String SHARDS_NOT_FOUND = "shardsNotFound";

    final Counter getRecordsThrottled;
    final Counter getShardIteratorThrottled;
    final Counter expiredIterators;
    final Counter getRecordsRetries;
    final Counter shardsNotFound;

    private final MetricGroup streamGroup;
    private final Map<String, MetricGroup> shardGroups = new ConcurrentHashMap<>();

    KinesisReaderMetrics(MetricGroup readerGroup, String streamArn) {
        this.getRecordsThrottled = readerGroup.counter(GET_RECORDS_THROTTLED);
        this.getShardIteratorThrottled = readerGroup.counter(GET_SHARD_ITERATOR_THROTTLED);
        this.expiredIterators = readerGroup.counter(EXPIRED_ITERATORS);
        this.getRecordsRetries = readerGroup.counter(GET_RECORDS_RETRIES);
        this.shardsNotFound = readerGroup.counter(SHARDS_NOT_FOUND);
        StreamArn arn = StreamArn.parse(streamArn);
        this.streamGroup =
                readerGroup
                        .addGroup(SOURCE_GROUP)
                        .addGroup(ACCOUNT_ID_GROUP, arn.accountId())
                        .addGroup(REGION_GROUP, arn.region())
                        .addGroup(STREAM_GROUP, arn.streamName());
    }

    /** Registers the shard's lag gauge. */
    void registerShard(String shardId, Gauge<Long> millisBehindLatest) {
        MetricGroup group = streamGroup.addGroup(SHARD_GROUP, shardId);
        group.gauge(MILLIS_BEHIND_LATEST, millisBehindLatest);
        MetricGroup prior = shardGroups.put(shardId, group);
        if (prior != null && prior != group) {
            close(prior);
        }
    }

    /** Removes the shard's metrics, so that a finished shard does not report a stale lag. */
    void unregisterShard(String shardId) {
        MetricGroup group = shardGroups.remove(shardId);
        if (group != null) {
            close(group);
        }
    }

    void unregisterAll() {
        for (String shardId : shardGroups.keySet()) {
            unregisterShard(shardId);
        }
    }

    private static void close(MetricGroup group) {
        // Only the runtime's groups can be closed; others (tests, no-op groups) have nothing to
        // release.
        if (group instanceof AbstractMetricGroup) {
            ((AbstractMetricGroup<?>) group).close();
        }
    }
}
