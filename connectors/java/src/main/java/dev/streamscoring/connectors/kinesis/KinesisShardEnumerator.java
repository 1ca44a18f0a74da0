package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsConnectorException;
import dev.streamscoring.connectors.aws.AwsErrors;

import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Discovers the stream's shards periodically and hands each shard to exactly one reader.
 *
 * <p>Shards present at the first discovery start at the configured initial position; shards found
 * later (children after a reshard, or any shard first seen after a restore) start at TRIM_HORIZON
 * so that none of their records are skipped. A shard goes to reader {@code index(shardId) mod
 * parallelism}; splits for readers that have not registered yet, or that failed, wait in the
 * checkpointed unassigned list.
 *
 * <p>Parent and child shards are read independently, so per-key order is not kept across a reshard.
 */
final class KinesisShardEnumerator
        implements SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> {

    private static final Logger LOG = LoggerFactory.getLogger(KinesisShardEnumerator.class);

    /** Transient ListShards failures in a row after which the job is failed. */
    private static final int MAX_CONSECUTIVE_DISCOVERY_FAILURES = 10;

    private final SplitEnumeratorContext<KinesisShardSplit> context;
    private final KinesisStreamProxy proxy;
    private final StartingPosition initialPosition;
    private final long discoveryIntervalMs;
    private final Set<String> assignedShardIds;
    private final List<KinesisShardSplit> unassignedSplits;
    private int consecutiveDiscoveryFailures;

    KinesisShardEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context,
            KinesisStreamProxy proxy,
            StartingPosition initialPosition,
            long discoveryIntervalMs,
            KinesisEnumeratorState state) {
        this.context = context;
        this.proxy = proxy;
        this.initialPosition = initialPosition;
        this.discoveryIntervalMs = discoveryIntervalMs;
        this.assignedShardIds = new LinkedHashSet<>(state.getAssignedShardIds());
        this.unassignedSplits = new ArrayList<>(state.getUnassignedSplits());
    }

    @Override
    public void start() {
        context.callAsync(proxy::listShards, this::onShardsListed, 0L, discoveryIntervalMs);
    }

    /** Runs in the coordinator thread with the result of a ListShards round. */
    private void onShardsListed(List<Shard> shards, Throwable error) {
        if (error != null) {
            consecutiveDiscoveryFailures++;
            if (AwsErrors.isRetryable(error)
                    && consecutiveDiscoveryFailures < MAX_CONSECUTIVE_DISCOVERY_FAILURES) {
                LOG.warn(
                        "Shard discovery on {} failed ({} in a row); retrying at the next interval",
                        proxy.getStreamArn(),
                        consecutiveDiscoveryFailures,
                        error);
                return;
            }
            throw new AwsConnectorException(
                    "Shard discovery on "
                            + proxy.getStreamArn()
                            + " failed "
                            + consecutiveDiscoveryFailures
                            + " time(s) in a row: "
                            + error.getMessage(),
                    error);
        }
        consecutiveDiscoveryFailures = 0;
        boolean firstDiscovery = assignedShardIds.isEmpty() && unassignedSplits.isEmpty();
        StartingPosition position =
                firstDiscovery ? initialPosition : StartingPosition.trimHorizon();
        Set<String> known = knownShardIds();
        List<KinesisShardSplit> discovered = new ArrayList<>();
        for (Shard shard : shards) {
            if (!known.contains(shard.shardId())) {
                discovered.add(new KinesisShardSplit(shard.shardId(), position));
            }
        }
        if (!discovered.isEmpty()) {
            LOG.info(
                    "Discovered {} new shard(s) on {} starting at {}: {}",
                    discovered.size(),
                    proxy.getStreamArn(),
                    position,
                    discovered);
            unassignedSplits.addAll(discovered);
        }
        assignPendingSplits();
    }

    private Set<String> knownShardIds() {
        Set<String> known = new LinkedHashSet<>(assignedShardIds);
        for (KinesisShardSplit split : unassignedSplits) {
            known.add(split.getShardId());
        }
        return known;
    }

    /** Hands every waiting split whose owning reader is registered to that reader. */
    private void assignPendingSplits() {
        int parallelism = context.currentParallelism();
        Map<Integer, List<KinesisShardSplit>> assignment = new HashMap<>();
        Iterator<KinesisShardSplit> it = unassignedSplits.iterator();
        while (it.hasNext()) {
            KinesisShardSplit split = it.next();
            int owner = ownerOf(split.getShardId(), parallelism);
            if (context.registeredReaders().containsKey(owner)) {
                assignment.computeIfAbsent(owner, k -> new ArrayList<>()).add(split);
                assignedShardIds.add(split.getShardId());
                it.remove();
            }
        }
        if (!assignment.isEmpty()) {
            LOG.info("Assigning shards to readers: {}", assignment);
            context.assignSplits(new SplitsAssignment<>(assignment));
        }
    }

    /** The reader owning a shard: the shard's number modulo the parallelism. */
    static int ownerOf(String shardId, int parallelism) {
        int end = shardId.length();
        int start = end;
        while (start > 0 && Character.isDigit(shardId.charAt(start - 1))) {
            start--;
        }
        long index;
        if (start < end && end - start <= 18) {
            index = Long.parseLong(shardId.substring(start, end));
        } else {
            index = shardId.hashCode();
        }
        return (int) Math.floorMod(index, (long) parallelism);
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // Splits are pushed to readers on discovery and registration; readers never ask.
    }

    @Override
    public void addSplitsBack(List<KinesisShardSplit> splits, int subtaskId) {
        LOG.info("Reader {} failed; taking back splits {}", subtaskId, splits);
        for (KinesisShardSplit split : splits) {
            assignedShardIds.remove(split.getShardId());
            unassignedSplits.add(split);
        }
    }

    @Override
    public void addReader(int subtaskId) {
        assignPendingSplits();
    }

    @Override
    public KinesisEnumeratorState snapshotState(long checkpointId) {
        return new KinesisEnumeratorState(assignedShardIds, unassignedSplits);
    }

    @Override
    public void close() {
        proxy.close();
    }
}
