package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceEvent;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Sent by a reader to the enumerator when it has read closed shards to their end: their children
 * can be assigned, to this reader preferably, while the reader keeps the shards open (see {@link
 * ShardHolds}). The enumerator answers with a {@link ChildShardsAssignedEvent}. A reader restored
 * with such a shard sends it again.
 */
public final class ShardsDrainedEvent implements SourceEvent {

    private static final long serialVersionUID = 1L;

    private final Map<String, Set<String>> childShardIds;

    /** @param childShardIds each drained shard with the children Kinesis named for it */
    public ShardsDrainedEvent(Map<String, Set<String>> childShardIds) {
        Map<String, Set<String>> copy = new LinkedHashMap<>();
        childShardIds.forEach(
                (shard, children) ->
                        copy.put(
                                shard,
                                Collections.unmodifiableSet(new LinkedHashSet<>(children))));
        this.childShardIds = Collections.unmodifiableMap(copy);
    }

    /** Drained shard id to the ids of its children. */
    public Map<String, Set<String>> getChildShardIds() {
        return childShardIds;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ShardsDrainedEvent
                && childShardIds.equals(((ShardsDrainedEvent) o).childShardIds);
    }

    @Override
    public int hashCode() {
        return childShardIds.hashCode();
    }

    @Override
    public String toString() {
        return "ShardsDrainedEvent" + childShardIds;
    }
}
