package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.core.io.InputStatus;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.model.Record;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Source reader of {@link KinesisStreamSource}: one fetcher thread polls all shards assigned to
 * this subtask; split state tracks the last emitted record for checkpoints.
 *
 * <p>Finished shards are reported to the enumerator with a {@link ShardsFinishedEvent}. The event
 * could be lost with a failure before the enumerator's next checkpoint, so a finished split stays
 * in this reader's checkpoints, marked finished, until two checkpoints taken after it finished are
 * complete; a reader restored with such a split sends the event again instead of reading it.
 *
 * <p>A closed shard read to its end is held open first (see {@link ShardHolds}): this reader
 * reports it with a {@link ShardsDrainedEvent}, the enumerator assigns its children, to this reader
 * when it can, and answers with a {@link ChildShardsAssignedEvent}, upon which the shard is
 * released and finished. Until then the shard's last watermark holds back the subtask's, so the
 * children's first records are not behind it. Releasing on the answer is enough: the enumerator
 * sends it after the children's splits, events to a reader arrive in order, and Flink's source
 * operator creates a split's output, which holds the watermark until the split's first record,
 * when the split arrives (Flink 2.2 {@code SourceOperator#handleAddSplitsEvent}). A reader
 * restored with a held shard reads it to its end again and reports it again.
 */
final class KinesisSourceReader<T>
        extends SingleThreadMultiplexSourceReaderBase<
                Record, T, KinesisShardSplit, KinesisShardSplitState> {

    private static final Logger LOG = LoggerFactory.getLogger(KinesisSourceReader.class);

    private final Set<String> vanishedShardIds;
    private final ShardHolds holds;

    /** Drained shards reported to the enumerator and not yet released. */
    private final Set<String> heldShardIds = new HashSet<>();

    /**
     * Finished splits by the id of the last checkpoint taken before they finished: they are part of
     * every later checkpoint until one of those completes.
     */
    private final NavigableMap<Long, Map<String, KinesisShardSplit>> finishedSplits =
            new TreeMap<>();

    private long lastCheckpointId = Long.MIN_VALUE;
    private long previousCompletedCheckpointId = Long.MIN_VALUE;

    /**
     * @param vanishedShardIds filled by the split reader with the shards it finished because
     *     Kinesis did not find them
     * @param holds shared with the split reader: the drained shards it holds open
     */
    KinesisSourceReader(
            Supplier<SplitReader<Record, KinesisShardSplit>> splitReaderSupplier,
            RecordEmitter<Record, T, KinesisShardSplitState> recordEmitter,
            Configuration config,
            SourceReaderContext context,
            Set<String> vanishedShardIds,
            ShardHolds holds) {
        super(splitReaderSupplier, recordEmitter, config, context);
        this.vanishedShardIds = vanishedShardIds;
        this.holds = holds;
    }

    @Override
    public InputStatus pollNext(ReaderOutput<T> output) throws Exception {
        InputStatus status = super.pollNext(output);
        reportDrained();
        return status;
    }

    /** Tells the enumerator of the shards drained since the last call; in the task thread. */
    private void reportDrained() {
        List<ShardHolds.Drained> drained = holds.takeDrained();
        if (drained.isEmpty()) {
            return;
        }
        Map<String, Set<String>> children = new LinkedHashMap<>();
        for (ShardHolds.Drained shard : drained) {
            children.put(shard.shardId, shard.childShardIds);
            heldShardIds.add(shard.shardId);
        }
        LOG.info("Holding shards read to their end until their children are assigned: {}", drained);
        context.sendSourceEventToCoordinator(new ShardsDrainedEvent(children));
    }

    @Override
    public void handleSourceEvents(SourceEvent sourceEvent) {
        if (!(sourceEvent instanceof ChildShardsAssignedEvent)) {
            super.handleSourceEvents(sourceEvent);
            return;
        }
        Map<String, Map<String, Integer>> childOwners =
                ((ChildShardsAssignedEvent) sourceEvent).getChildOwners();
        for (Map.Entry<String, Map<String, Integer>> parent : childOwners.entrySet()) {
            // A shard released by its timeout, or not held here, has nothing left to release.
            if (heldShardIds.remove(parent.getKey())) {
                LOG.info(
                        "Children of shard {} are assigned (to subtasks {}); finishing it",
                        parent.getKey(),
                        parent.getValue());
                holds.release(parent.getKey());
            }
        }
    }

    @Override
    public void addSplits(List<KinesisShardSplit> splits) {
        List<KinesisShardSplit> unfinished = new ArrayList<>(splits.size());
        Set<String> unfinishedIds = new HashSet<>();
        for (KinesisShardSplit split : splits) {
            if (!split.isFinished()) {
                unfinished.add(split);
                unfinishedIds.add(split.getShardId());
            }
        }
        // A vanished shard of a recreated stream comes back under the same id once the
        // enumerator has taken note of its end: the finished split is then obsolete, and
        // reporting it again would end the new shard's split.
        for (Map<String, KinesisShardSplit> kept : finishedSplits.values()) {
            kept.keySet().removeAll(unfinishedIds);
        }
        List<KinesisShardSplit> finished = new ArrayList<>();
        for (KinesisShardSplit split : splits) {
            if (split.isFinished() && !unfinishedIds.contains(split.getShardId())) {
                finished.add(split);
            }
        }
        if (!finished.isEmpty()) {
            LOG.info("Restored shards that had finished before the checkpoint: {}", finished);
            reportFinished(finished);
        }
        if (!unfinished.isEmpty()) {
            super.addSplits(unfinished);
        }
    }

    @Override
    protected void onSplitFinished(Map<String, KinesisShardSplitState> finishedSplitIds) {
        heldShardIds.removeAll(finishedSplitIds.keySet());
        List<KinesisShardSplit> finished = new ArrayList<>(finishedSplitIds.size());
        for (Map.Entry<String, KinesisShardSplitState> entry : finishedSplitIds.entrySet()) {
            KinesisShardSplit.Status status =
                    vanishedShardIds.remove(entry.getKey())
                            ? KinesisShardSplit.Status.VANISHED
                            : KinesisShardSplit.Status.FULLY_READ;
            finished.add(entry.getValue().toSplit().withStatus(status));
        }
        LOG.info("Finished reading shards {}", finished);
        reportFinished(finished);
    }

    private void reportFinished(List<KinesisShardSplit> finished) {
        Map<String, KinesisShardSplit> pending =
                finishedSplits.computeIfAbsent(lastCheckpointId, id -> new LinkedHashMap<>());
        Set<String> fullyRead = new LinkedHashSet<>();
        Set<String> vanished = new LinkedHashSet<>();
        for (KinesisShardSplit split : finished) {
            pending.put(split.getShardId(), split);
            (split.getStatus() == KinesisShardSplit.Status.VANISHED ? vanished : fullyRead)
                    .add(split.getShardId());
        }
        context.sendSourceEventToCoordinator(new ShardsFinishedEvent(fullyRead, vanished));
    }

    @Override
    public List<KinesisShardSplit> snapshotState(long checkpointId) {
        lastCheckpointId = checkpointId;
        List<KinesisShardSplit> splits = new ArrayList<>(super.snapshotState(checkpointId));
        for (Map<String, KinesisShardSplit> finished : finishedSplits.values()) {
            splits.addAll(finished.values());
        }
        return splits;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        super.notifyCheckpointComplete(checkpointId);
        // A split that finished after checkpoint N-1 is in checkpoint N. The event sent before it
        // may still reach the enumerator after the enumerator's part of N was taken, but not after
        // its part of a checkpoint triggered once N was complete: keep the split until such a
        // later checkpoint is complete too.
        if (previousCompletedCheckpointId != Long.MIN_VALUE) {
            finishedSplits.headMap(previousCompletedCheckpointId, false).clear();
        }
        previousCompletedCheckpointId = checkpointId;
    }

    @Override
    protected KinesisShardSplitState initializedState(KinesisShardSplit split) {
        return new KinesisShardSplitState(split);
    }

    @Override
    protected KinesisShardSplit toSplitType(String splitId, KinesisShardSplitState splitState) {
        return splitState.toSplit();
    }
}
