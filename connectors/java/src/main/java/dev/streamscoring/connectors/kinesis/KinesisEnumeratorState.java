package dev.streamscoring.connectors.kinesis;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Checkpointed state of the shard enumerator: whether the shards present at the start were already
 * discovered, every shard handed to a reader (and which one), the splits still waiting for a reader
 * or for their parents, and the shards that are done, either read to their end or vanished.
 */
public final class KinesisEnumeratorState {

    /**
     * Owner of a shard assigned by a version that did not report finished shards: it may have
     * finished unnoticed, so its children do not wait for it.
     */
    public static final int UNKNOWN_OWNER = -1;

    private final boolean initialDiscoveryDone;
    private final Map<String, Integer> assignedShardOwners;
    private final List<KinesisShardSplit> unassignedSplits;
    private final Set<String> finishedShardIds;
    private final Set<String> vanishedShardIds;

    public KinesisEnumeratorState(
            boolean initialDiscoveryDone,
            Map<String, Integer> assignedShardOwners,
            List<KinesisShardSplit> unassignedSplits,
            Set<String> finishedShardIds,
            Set<String> vanishedShardIds) {
        this.initialDiscoveryDone = initialDiscoveryDone;
        this.assignedShardOwners =
                Collections.unmodifiableMap(new LinkedHashMap<>(assignedShardOwners));
        this.unassignedSplits = Collections.unmodifiableList(new ArrayList<>(unassignedSplits));
        this.finishedShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(finishedShardIds));
        this.vanishedShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(vanishedShardIds));
    }

    /** The state of a job that has not discovered any shard yet. */
    public static KinesisEnumeratorState empty() {
        return new KinesisEnumeratorState(
                false,
                Collections.emptyMap(),
                Collections.emptyList(),
                Collections.emptySet(),
                Collections.emptySet());
    }

    /** Whether the shards present at the job's first start got their initial position. */
    public boolean isInitialDiscoveryDone() {
        return initialDiscoveryDone;
    }

    /** Shard id to the subtask reading it, or {@link #UNKNOWN_OWNER}. */
    public Map<String, Integer> getAssignedShardOwners() {
        return assignedShardOwners;
    }

    public List<KinesisShardSplit> getUnassignedSplits() {
        return unassignedSplits;
    }

    /** Shards closed by a reshard and read to their end, while ListShards still reports them. */
    public Set<String> getFinishedShardIds() {
        return finishedShardIds;
    }

    /** Shards Kinesis stopped knowing; listed again, they belong to a recreated stream. */
    public Set<String> getVanishedShardIds() {
        return vanishedShardIds;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof KinesisEnumeratorState)) {
            return false;
        }
        KinesisEnumeratorState that = (KinesisEnumeratorState) o;
        return initialDiscoveryDone == that.initialDiscoveryDone
                && assignedShardOwners.equals(that.assignedShardOwners)
                && unassignedSplits.equals(that.unassignedSplits)
                && finishedShardIds.equals(that.finishedShardIds)
                && vanishedShardIds.equals(that.vanishedShardIds);
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                initialDiscoveryDone,
                assignedShardOwners,
                unassignedSplits,
                finishedShardIds,
                vanishedShardIds);
    }

    @Override
    public String toString() {
        return "KinesisEnumeratorState{initialDiscoveryDone="
                + initialDiscoveryDone
                + ", assigned="
                + assignedShardOwners
                + ", unassigned="
                + unassignedSplits
                + ", finished="
                + finishedShardIds
                + ", vanished="
                + vanishedShardIds
                + "}";
    }
}
