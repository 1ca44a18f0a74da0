package dev.streamscoring.connectors.kinesis;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Checkpointed state of the shard enumerator: every shard already handed to a reader (so it is
 * never handed out twice) and the splits still waiting for a reader.
 */
public final class KinesisEnumeratorState {

    private final Set<String> assignedShardIds;
    private final List<KinesisShardSplit> unassignedSplits;

    public KinesisEnumeratorState(
            Set<String> assignedShardIds, List<KinesisShardSplit> unassignedSplits) {
        this.assignedShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(assignedShardIds));
        this.unassignedSplits = Collections.unmodifiableList(new ArrayList<>(unassignedSplits));
    }

    public Set<String> getAssignedShardIds() {
        return assignedShardIds;
    }

    public List<KinesisShardSplit> getUnassignedSplits() {
        return unassignedSplits;
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
        return assignedShardIds.equals(that.assignedShardIds)
                && unassignedSplits.equals(that.unassignedSplits);
    }

    @Override
    public int hashCode() {
        return Objects.hash(assignedShardIds, unassignedSplits);
    }

    @Override
    public String toString() {
        return "KinesisEnumeratorState{assigned="
                + assignedShardIds
                + ", unassigned="
                + unassignedSplits
                + "}";
    }
}
