package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceEvent;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Sent by a reader to the enumerator when it stops reading shards, so that their children can be
 * assigned. Readers send it again after a restore for shards that finished before the checkpoint
 * completed, so receiving it twice is normal.
 */
public final class ShardsFinishedEvent implements SourceEvent {

    private static final long serialVersionUID = 1L;

    private final Set<String> fullyReadShardIds;
    private final Set<String> vanishedShardIds;

    /**
     * @param fullyReadShardIds shards closed by a reshard and read to their end
     * @param vanishedShardIds shards Kinesis reported as not found
     */
    public ShardsFinishedEvent(Set<String> fullyReadShardIds, Set<String> vanishedShardIds) {
        this.fullyReadShardIds =
                Collections.unmodifiableSet(new LinkedHashSet<>(fullyReadShardIds));
        this.vanishedShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(vanishedShardIds));
    }

    public Set<String> getFullyReadShardIds() {
        return fullyReadShardIds;
    }

    public Set<String> getVanishedShardIds() {
        return vanishedShardIds;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof ShardsFinishedEvent)) {
            return false;
        }
        ShardsFinishedEvent that = (ShardsFinishedEvent) o;
        return fullyReadShardIds.equals(that.fullyReadShardIds)
                && vanishedShardIds.equals(that.vanishedShardIds);
    }

    @Override
    public int hashCode() {
        return 31 * fullyReadShardIds.hashCode() + vanishedShardIds.hashCode();
    }

    @Override
    public String toString() {
        return "ShardsFinishedEvent{fullyRead="
                + fullyReadShardIds
                + ", vanished="
                + vanishedShardIds
                + "}";
    }
}
