package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsConnectorException;
import dev.streamscoring.connectors.aws.AwsErrors;

import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Discovers the stream's shards periodically and hands each shard to exactly one reader, a child
 * shard only once its parents are done.
 *
 * <p>Shards present at the first discovery start at the configured initial position, LATEST being
 * fixed to AT_TIMESTAMP of the enumerator's start so that a restore never skips records; shards
 * found later (children after a reshard) start at TRIM_HORIZON. A parent is done when a reader
 * reported it read to its end or vanished, or when it is unknown (expired beyond the retention
 * period). Splits wait in the checkpointed unassigned list until all readers are registered; then
 * each goes to the reader with the fewest unfinished shards (see {@link ShardAssigner}).
 *
 * <p>A shard reported as vanished (ResourceNotFoundException) and listed again later belongs to a
 * stream recreated under the same name: it is read again from TRIM_HORIZON. When ListShards itself
 * reports the stream as not found, discovery goes on at its interval, and the shards read to their
 * end are from then on treated as vanished, since a recreated stream reuses their ids.
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
    private final Clock clock;

    private boolean initialDiscoveryDone;
    private final Map<String, Integer> assignedShardOwners;
    private final List<KinesisShardSplit> unassignedSplits;
    private final Set<String> finishedShardIds;
    private final Set<String> vanishedShardIds;

    private Instant startedAt;
    private int consecutiveDiscoveryFailures;
    private boolean streamMissing;

    KinesisShardEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context,
            KinesisStreamProxy proxy,
            StartingPosition initialPosition,
            long discoveryIntervalMs,
            KinesisEnumeratorState state) {
        this(context, proxy, initialPosition, discoveryIntervalMs, state, Clock.systemUTC());
    }

    KinesisShardEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context,
            KinesisStreamProxy proxy,
            StartingPosition initialPosition,
            long discoveryIntervalMs,
            KinesisEnumeratorState state,
            Clock clock) {
        this.context = context;
        this.proxy = proxy;
        this.initialPosition = initialPosition;
        this.discoveryIntervalMs = discoveryIntervalMs;
        this.clock = clock;
        this.initialDiscoveryDone = state.isInitialDiscoveryDone();
        this.assignedShardOwners = new LinkedHashMap<>(state.getAssignedShardOwners());
        this.unassignedSplits = new ArrayList<>(state.getUnassignedSplits());
        this.finishedShardIds = new LinkedHashSet<>(state.getFinishedShardIds());
        this.vanishedShardIds = new LinkedHashSet<>(state.getVanishedShardIds());
    }

    @Override
    public void start() {
        startedAt = clock.instant();
        context.callAsync(proxy::listShards, this::onShardsListed, 0L, discoveryIntervalMs);
    }

    /** Runs in the coordinator thread with the result of a ListShards round. */
    void onShardsListed(List<Shard> shards, Throwable error) {
        if (error != null) {
            onDiscoveryFailure(error);
            return;
        }
        consecutiveDiscoveryFailures = 0;
        if (streamMissing) {
            LOG.info("Stream {} is listed again", proxy.getStreamArn());
            streamMissing = false;
        }
        StartingPosition position =
                initialDiscoveryDone ? StartingPosition.trimHorizon() : resolvedInitialPosition();
        Set<String> listed = new LinkedHashSet<>();
        List<KinesisShardSplit> discovered = new ArrayList<>();
        for (Shard shard : shards) {
            String shardId = shard.shardId();
            listed.add(shardId);
            if (vanishedShardIds.remove(shardId)) {
                LOG.warn(
                        "Shard {} of {} is listed again after it vanished: reading it from"
                                + " TRIM_HORIZON as a shard of a recreated stream",
                        shardId,
                        proxy.getStreamArn());
                discovered.add(toSplit(shard, StartingPosition.trimHorizon()));
            } else if (!isKnown(shardId)) {
                discovered.add(toSplit(shard, position));
            }
        }
        initialDiscoveryDone = true;
        // Shards beyond the retention period are not listed again; a parent that is not known is
        // done, so forgetting them keeps the state small without holding back any child.
        finishedShardIds.retainAll(listed);
        vanishedShardIds.retainAll(listed);
        if (!discovered.isEmpty()) {
            LOG.info(
                    "Discovered {} new shard(s) on {}: {}",
                    discovered.size(),
                    proxy.getStreamArn(),
                    discovered);
            unassignedSplits.addAll(discovered);
        }
        assignPendingSplits();
    }

    private StartingPosition resolvedInitialPosition() {
        if (initialPosition.getType() == StartingPosition.Type.LATEST) {
            return StartingPosition.atTimestamp(startedAt);
        }
        return initialPosition;
    }

    private void onDiscoveryFailure(Throwable error) {
        if (KinesisErrors.isResourceNotFound(error)) {
            if (!streamMissing) {
                LOG.warn(
                        "Stream {} is not found; looking for it again every {} ms",
                        proxy.getStreamArn(),
                        discoveryIntervalMs);
                streamMissing = true;
            }
            // A stream recreated under the same name reuses the shard ids of this one.
            vanishedShardIds.addAll(finishedShardIds);
            finishedShardIds.clear();
            consecutiveDiscoveryFailures = 0;
            return;
        }
        if (KinesisErrors.isThrottled(error)) {
            // The next round, one interval later, is the backoff.
            LOG.warn(
                    "Shard discovery on {} was throttled ({}); retrying at the next interval",
                    proxy.getStreamArn(),
                    AwsErrors.errorCode(error));
            return;
        }
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

    private static KinesisShardSplit toSplit(Shard shard, StartingPosition position) {
        Set<String> parents = new LinkedHashSet<>();
        if (shard.parentShardId() != null) {
            parents.add(shard.parentShardId());
        }
        if (shard.adjacentParentShardId() != null) {
            parents.add(shard.adjacentParentShardId());
        }
        String startingHashKey = null;
        String endingHashKey = null;
        if (shard.hashKeyRange() != null) {
            startingHashKey = shard.hashKeyRange().startingHashKey();
            endingHashKey = shard.hashKeyRange().endingHashKey();
        }
        return new KinesisShardSplit(
                shard.shardId(),
                position,
                parents,
                startingHashKey,
                endingHashKey,
                KinesisShardSplit.Status.UNFINISHED);
    }

    private boolean isKnown(String shardId) {
        return assignedShardOwners.containsKey(shardId)
                || finishedShardIds.contains(shardId)
                || isUnassigned(shardId);
    }

    private boolean isUnassigned(String shardId) {
        for (KinesisShardSplit split : unassignedSplits) {
            if (split.getShardId().equals(shardId)) {
                return true;
            }
        }
        return false;
    }

    /** A parent holds its children back while it is waiting for or being read by a reader. */
    private boolean parentsDone(KinesisShardSplit split) {
        for (String parent : split.getParentShardIds()) {
            Integer owner = assignedShardOwners.get(parent);
            if (owner != null && owner != KinesisEnumeratorState.UNKNOWN_OWNER) {
                return false;
            }
            if (isUnassigned(parent)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Hands every waiting split whose parents are done to a reader, once all readers are
     * registered: assigning earlier would pile the shards onto the first readers.
     */
    private void assignPendingSplits() {
        int parallelism = context.currentParallelism();
        Map<Integer, ?> registered = context.registeredReaders();
        if (registered.size() < parallelism || unassignedSplits.isEmpty()) {
            return;
        }
        List<Integer> readers = new ArrayList<>(registered.keySet());
        Collections.sort(readers);
        Map<Integer, Integer> loads = new HashMap<>();
        for (int owner : assignedShardOwners.values()) {
            if (registered.containsKey(owner)) {
                loads.merge(owner, 1, Integer::sum);
            }
        }
        Map<Integer, List<KinesisShardSplit>> assignment = new TreeMap<>();
        // Splits assigned in this round are not parents of later ones in the list: a child waits
        // for the round after its parent finished.
        List<KinesisShardSplit> ready = new ArrayList<>();
        for (KinesisShardSplit split : unassignedSplits) {
            if (parentsDone(split)) {
                ready.add(split);
            }
        }
        int open = 0;
        for (int load : loads.values()) {
            open += load;
        }
        int fairShare = ShardAssigner.fairShare(open + ready.size(), readers.size());
        for (KinesisShardSplit split : ready) {
            int owner = ShardAssigner.select(split, readers, loads, fairShare);
            loads.merge(owner, 1, Integer::sum);
            assignment.computeIfAbsent(owner, k -> new ArrayList<>()).add(split);
            assignedShardOwners.put(split.getShardId(), owner);
        }
        Iterator<KinesisShardSplit> it = unassignedSplits.iterator();
        while (it.hasNext()) {
            if (assignedShardOwners.containsKey(it.next().getShardId())) {
                it.remove();
            }
        }
        if (!assignment.isEmpty()) {
            LOG.info("Assigning shards to readers: {}", assignment);
            context.assignSplits(new SplitsAssignment<>(assignment));
        }
    }

    @Override
    public void handleSourceEvent(int subtaskId, SourceEvent sourceEvent) {
        if (!(sourceEvent instanceof ShardsFinishedEvent)) {
            return;
        }
        ShardsFinishedEvent event = (ShardsFinishedEvent) sourceEvent;
        LOG.info("Reader {} finished shards {}", subtaskId, event);
        for (String shardId : event.getFullyReadShardIds()) {
            markDone(shardId, finishedShardIds);
        }
        for (String shardId : event.getVanishedShardIds()) {
            markDone(shardId, vanishedShardIds);
        }
        assignPendingSplits();
    }

    private void markDone(String shardId, Set<String> doneIds) {
        assignedShardOwners.remove(shardId);
        unassignedSplits.removeIf(split -> split.getShardId().equals(shardId));
        finishedShardIds.remove(shardId);
        vanishedShardIds.remove(shardId);
        doneIds.add(shardId);
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // Splits are pushed to readers on discovery and registration; readers never ask.
    }

    /**
     * Splits assigned since the reader's last checkpoint are read again from where they started,
     * even if the reader reported them finished: what it emitted since was rolled back.
     */
    @Override
    public void addSplitsBack(List<KinesisShardSplit> splits, int subtaskId) {
        LOG.info("Reader {} failed; taking back splits {}", subtaskId, splits);
        for (KinesisShardSplit split : splits) {
            assignedShardOwners.remove(split.getShardId());
            finishedShardIds.remove(split.getShardId());
            vanishedShardIds.remove(split.getShardId());
            if (!isUnassigned(split.getShardId())) {
                unassignedSplits.add(split.withStatus(KinesisShardSplit.Status.UNFINISHED));
            }
        }
    }

    @Override
    public void addReader(int subtaskId) {
        assignPendingSplits();
    }

    @Override
    public KinesisEnumeratorState snapshotState(long checkpointId) {
        return new KinesisEnumeratorState(
                initialDiscoveryDone,
                assignedShardOwners,
                unassignedSplits,
                finishedShardIds,
                vanishedShardIds);
    }

    @Override
    public void close() {
        proxy.close();
    }
}
