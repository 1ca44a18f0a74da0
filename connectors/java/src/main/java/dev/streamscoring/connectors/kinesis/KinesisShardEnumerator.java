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
 * <p>A parent is also done when its reader reported it drained ({@link ShardsDrainedEvent}): read
 * to its end but held open, so that its last watermark holds back the reader's. Its children then
 * go to the reader of one of their drained parents (the least loaded), and once all of a drained
 * parent's children are assigned its reader is told so ({@link ChildShardsAssignedEvent}) and
 * finishes it. Drained shards are not checkpointed: a restored reader reads a held shard to its end
 * again and reports it again, and is answered again if the children were assigned meanwhile.
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

    /** Shards drained and held open by their reader, until it reports them finished. */
    private final Map<String, DrainedShard> drainedShards = new LinkedHashMap<>();

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
            if (owner != null
                    && owner != KinesisEnumeratorState.UNKNOWN_OWNER
                    && !drainedShards.containsKey(parent)) {
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
        assignReadySplits();
        // After the assignment: a reader must have its children's splits before it finishes the
        // parent, and events to a reader arrive in the order they are sent.
        answerDrainedShards();
    }

    private void assignReadySplits() {
        int parallelism = context.currentParallelism();
        Map<Integer, ?> registered = context.registeredReaders();
        if (registered.size() < parallelism || unassignedSplits.isEmpty()) {
            return;
        }
        List<Integer> readers = new ArrayList<>(registered.keySet());
        Collections.sort(readers);
        Map<Integer, Integer> loads = new HashMap<>();
        for (Map.Entry<String, Integer> assigned : assignedShardOwners.entrySet()) {
            int owner = assigned.getValue();
            if (registered.containsKey(owner) && !drainedShards.containsKey(assigned.getKey())) {
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
            Integer parentOwner = leastLoadedDrainedParentOwner(split, registered.keySet(), loads);
            int owner =
                    parentOwner != null
                            ? parentOwner
                            : ShardAssigner.select(split, readers, loads, fairShare);
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

    /**
     * The reader of one of the split's drained parents with the fewest open shards (the lowest
     * subtask among equals), or null if no parent is drained on a registered reader: there the
     * parent's held watermark covers the child's first records.
     */
    private Integer leastLoadedDrainedParentOwner(
            KinesisShardSplit split, Set<Integer> registered, Map<Integer, Integer> loads) {
        Integer best = null;
        for (String parent : split.getParentShardIds()) {
            DrainedShard drained = drainedShards.get(parent);
            if (drained == null || !registered.contains(drained.owner)) {
                continue;
            }
            int load = loads.getOrDefault(drained.owner, 0);
            int bestLoad = best == null ? Integer.MAX_VALUE : loads.getOrDefault(best, 0);
            if (load < bestLoad || (load == bestLoad && drained.owner < best)) {
                best = drained.owner;
            }
        }
        return best;
    }

    /**
     * Tells the readers of drained shards whose children are all assigned where they went. A child
     * not discovered yet, or waiting for another parent, keeps its parent held.
     */
    private void answerDrainedShards() {
        Map<Integer, Map<String, Map<String, Integer>>> answers = new TreeMap<>();
        for (Map.Entry<String, DrainedShard> entry : drainedShards.entrySet()) {
            DrainedShard drained = entry.getValue();
            if (drained.answered || !context.registeredReaders().containsKey(drained.owner)) {
                continue;
            }
            Set<String> children = new LinkedHashSet<>(drained.childShardIds);
            for (KinesisShardSplit split : unassignedSplits) {
                if (split.getParentShardIds().contains(entry.getKey())) {
                    children.add(split.getShardId());
                }
            }
            Map<String, Integer> childOwners = new LinkedHashMap<>();
            for (String child : children) {
                Integer owner = assignedShardOwners.get(child);
                if (owner != null) {
                    childOwners.put(child, owner);
                } else if (finishedShardIds.contains(child) || vanishedShardIds.contains(child)) {
                    childOwners.put(child, ChildShardsAssignedEvent.DONE);
                } else {
                    break;
                }
            }
            if (childOwners.size() == children.size()) {
                drained.answered = true;
                answers.computeIfAbsent(drained.owner, k -> new LinkedHashMap<>())
                        .put(entry.getKey(), childOwners);
            }
        }
        answers.forEach(
                (owner, childOwners) -> {
                    LOG.info("Telling reader {} where children went: {}", owner, childOwners);
                    context.sendEventToSourceReader(
                            owner, new ChildShardsAssignedEvent(childOwners));
                });
    }

    private void onShardsDrained(int subtaskId, ShardsDrainedEvent event) {
        LOG.info("Reader {} read shards to their end and holds them: {}", subtaskId, event);
        for (Map.Entry<String, Set<String>> drained : event.getChildShardIds().entrySet()) {
            String shardId = drained.getKey();
            drainedShards.put(shardId, new DrainedShard(subtaskId, drained.getValue()));
            if (!finishedShardIds.contains(shardId) && !vanishedShardIds.contains(shardId)) {
                // After a restore at another parallelism the shard may be read by another reader.
                unassignedSplits.removeIf(split -> split.getShardId().equals(shardId));
                assignedShardOwners.put(shardId, subtaskId);
            }
        }
        assignPendingSplits();
    }

    @Override
    public void handleSourceEvent(int subtaskId, SourceEvent sourceEvent) {
        if (sourceEvent instanceof ShardsDrainedEvent) {
            onShardsDrained(subtaskId, (ShardsDrainedEvent) sourceEvent);
            return;
        }
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
        drainedShards.remove(shardId);
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
            drainedShards.remove(split.getShardId());
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

    /** A shard its reader holds open after reading it to its end. */
    private static final class DrainedShard {
        final int owner;
        final Set<String> childShardIds;
        boolean answered;

        DrainedShard(int owner, Set<String> childShardIds) {
            this.owner = owner;
            this.childShardIds = childShardIds;
        }
    }
}
