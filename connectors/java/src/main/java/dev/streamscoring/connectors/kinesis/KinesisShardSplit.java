package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceSplit;

import java.util.Objects;

/** One shard of the stream, as a unit of work for a source reader, with its start position. */
public final class KinesisShardSplit implements SourceSplit {

    private final String shardId;
    private final StartingPosition startingPosition;

    public KinesisShardSplit(String shardId, StartingPosition startingPosition) {
        this.shardId = Objects.requireNonNull(shardId, "shardId");
        this.startingPosition = Objects.requireNonNull(startingPosition, "startingPosition");
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

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof KinesisShardSplit)) {
            return false;
        }
        KinesisShardSplit that = (KinesisShardSplit) o;
        return shardId.equals(that.shardId) && startingPosition.equals(that.startingPosition);
    }

    @Override
    public int hashCode() {
        return Objects.hash(shardId, startingPosition);
    }

    @Override
    public String toString() {
        return "KinesisShardSplit{" + shardId + " from " + startingPosition + "}";
    }
}
