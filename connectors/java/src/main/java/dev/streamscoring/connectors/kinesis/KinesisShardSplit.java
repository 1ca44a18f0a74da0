package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceSplit;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

/**
 * One shard of the stream, as a unit of work for a source reader: where to start, the shard's
 * parents (read before it) and its hash key range (used to spread shards over readers). A reader
 * keeps a finished split in its checkpoint, marked with how it finished, until the enumerator is
 * sure to have heard of it.
 */
public final class KinesisShardSplit implements SourceSplit {

    /** Whether and how reading a shard has ended. */
    public enum Status {
        UNFINISHED,
        /** Closed by a reshard and read to its end. */
        FULLY_READ,
        /** Kinesis no longer knows the shard or its stream (ResourceNotFoundException). */
        VANISHED
    }

    private final String shardId;
    private final StartingPosition startingPosition;
    private final Set<String> parentShardIds;
    private final String startingHashKey;
    private final String endingHashKey;
    private final Status status;

    /** A split without known parents or hash key range, e.g. one restored from version 1. */
    public KinesisShardSplit(String shardId, StartingPosition startingPosition) {
        this(shardId, startingPosition, Collections.emptySet(), null, null, Status.UNFINISHED);
    }

    /**
     * @param startingHashKey decimal start of the shard's hash key range, null if unknown
     * @param endingHashKey decimal end of the shard's hash key range, null if unknown
     */
    public KinesisShardSplit(
            String shardId,
            StartingPosition startingPosition,
            Set<String> parentShardIds,
            String startingHashKey,
            String endingHashKey,
            Status status) {
        this.shardId = Objects.requireNonNull(shardId, "shardId");
        this.startingPosition = Objects.requireNonNull(startingPosition, "startingPosition");
        this.parentShardIds =
                Collections.unmodifiableSet(
                        new LinkedHashSet<>(Objects.requireNonNull(parentShardIds, "parents")));
        this.startingHashKey = startingHashKey;
        this.endingHashKey = endingHashKey;
        this.status = Objects.requireNonNull(status, "status");
    }

    @Override
    public String splitId() {
        return shardId;
    }

    public String getShardId() {
        return shardId;
    }

    public StartingPosition getStartingPosition() {
        return startingPosition;
    }

    /** Parent and adjacent parent of the shard as ListShards reported them; may be empty. */
    public Set<String> getParentShardIds() {
        return parentShardIds;
    }

    public String getStartingHashKey() {
        return startingHashKey;
    }

    public String getEndingHashKey() {
        return endingHashKey;
    }

    public Status getStatus() {
        return status;
    }

    public boolean isFinished() {
        return status != Status.UNFINISHED;
    }

    KinesisShardSplit withStartingPosition(StartingPosition position) {
        return new KinesisShardSplit(
                shardId, position, parentShardIds, startingHashKey, endingHashKey, status);
    }

    KinesisShardSplit withStatus(Status newStatus) {
        return new KinesisShardSplit(
                shardId,
                startingPosition,
                parentShardIds,
                startingHashKey,
                endingHashKey,
                newStatus);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof KinesisShardSplit)) {
            return false;
        }
        KinesisShardSplit that = (KinesisShardSplit) o;
        return shardId.equals(that.shardId)
                && startingPosition.equals(that.startingPosition)
                && parentShardIds.equals(that.parentShardIds)
                && Objects.equals(startingHashKey, that.startingHashKey)
                && Objects.equals(endingHashKey, that.endingHashKey)
                && status == that.status;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                shardId, startingPosition, parentShardIds, startingHashKey, endingHashKey, status);
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("KinesisShardSplit{").append(shardId);
        text.append(" from ").append(startingPosition);
        if (!parentShardIds.isEmpty()) {
            text.append(", parents ").append(parentShardIds);
        }
        if (status != Status.UNFINISHED) {
            text.append(", ").append(status);
        }
        return text.append('}').toString();
    }
}
