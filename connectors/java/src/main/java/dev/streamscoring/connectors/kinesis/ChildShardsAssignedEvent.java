package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceEvent;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Sent by the enumerator to the reader of drained shards (see {@link ShardsDrainedEvent}) once all
 * their children are assigned: the reader can then finish the shards. It names the subtask each
 * child went to ({@link #DONE} for a child already read to its end).
 */
public final class ChildShardsAssignedEvent implements SourceEvent {

    private static final long serialVersionUID = 1L;

    /** Subtask of a child that is no longer read by anyone. */
    public static final int DONE = -1;

    private final Map<String, Map<String, Integer>> childOwners;

    /** @param childOwners each drained shard to its children and the subtask of each */
    public ChildShardsAssignedEvent(Map<String, Map<String, Integer>> childOwners) {
        Map<String, Map<String, Integer>> copy = new LinkedHashMap<>();
        childOwners.forEach(
                (parent, children) ->
                        copy.put(
                                parent,
                                Collections.unmodifiableMap(new LinkedHashMap<>(children))));
        this.childOwners = Collections.unmodifiableMap(copy);
    }

    /** Drained shard id to its children's ids and the subtask reading each. */
    public Map<String, Map<String, Integer>> getChildOwners() {
        return childOwners;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChildShardsAssignedEvent
                && childOwners.equals(((ChildShardsAssignedEvent) o).childOwners);
    }

    @Override
    public int hashCode() {
        return childOwners.hashCode();
    }

    @Override
    public String toString() {
        return "ChildShardsAssignedEvent" + childOwners;
    }
}
