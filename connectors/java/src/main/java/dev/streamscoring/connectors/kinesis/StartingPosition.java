package dev.streamscoring.connectors.kinesis;

import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

import java.io.Serializable;
import java.time.Instant;
import java.util.Objects;

/** Where to start reading a shard: one of the Kinesis shard iterator types. */
public final class StartingPosition implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The kinds of start position; names and order are part of the serialized split format. */
    public enum Type {
        LATEST,
        TRIM_HORIZON,
        AT_TIMESTAMP,
        AFTER_SEQUENCE_NUMBER
    }

    private final Type type;
    private final String sequenceNumber;
    private final Instant timestamp;

    private StartingPosition(Type type, String sequenceNumber, Instant timestamp) {
        this.type = Objects.requireNonNull(type, "type");
        this.sequenceNumber = sequenceNumber;
        this.timestamp = timestamp;
    }

    public static StartingPosition latest() {
        return new StartingPosition(Type.LATEST, null, null);
    }

    public static StartingPosition trimHorizon() {
        return new StartingPosition(Type.TRIM_HORIZON, null, null);
    }

    public static StartingPosition atTimestamp(Instant timestamp) {
        return new StartingPosition(
                Type.AT_TIMESTAMP, null, Objects.requireNonNull(timestamp, "timestamp"));
    }

    public static StartingPosition afterSequenceNumber(String sequenceNumber) {
        return new StartingPosition(
                Type.AFTER_SEQUENCE_NUMBER,
                Objects.requireNonNull(sequenceNumber, "sequenceNumber"),
                null);
    }

    public Type getType() {
        return type;
    }

    /** The sequence number for {@link Type#AFTER_SEQUENCE_NUMBER}, otherwise null. */
    public String getSequenceNumber() {
        return sequenceNumber;
    }

    /** The timestamp for {@link Type#AT_TIMESTAMP}, otherwise null. */
    public Instant getTimestamp() {
        return timestamp;
    }

    /** Sets the iterator type and its argument on a GetShardIterator request. */
    void applyTo(GetShardIteratorRequest.Builder request) {
        switch (type) {
            case AFTER_SEQUENCE_NUMBER:
                request.shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER)
                        .startingSequenceNumber(sequenceNumber);
                break;
            case AT_TIMESTAMP:
                request.shardIteratorType(ShardIteratorType.AT_TIMESTAMP).timestamp(timestamp);
                break;
            case TRIM_HORIZON:
                request.shardIteratorType(ShardIteratorType.TRIM_HORIZON);
                break;
            case LATEST:
            default:
                request.shardIteratorType(ShardIteratorType.LATEST);
                break;
        }
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof StartingPosition)) {
            return false;
        }
        StartingPosition that = (StartingPosition) o;
        return type == that.type
                && Objects.equals(sequenceNumber, that.sequenceNumber)
                && Objects.equals(timestamp, that.timestamp);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, sequenceNumber, timestamp);
    }

    @Override
    public String toString() {
        switch (type) {
            case AFTER_SEQUENCE_NUMBER:
                return "AFTER_SEQUENCE_NUMBER(" + sequenceNumber + ")";
            case AT_TIMESTAMP:
                return "AT_TIMESTAMP(" + timestamp + ")";
            default:
                return type.name();
        }
    }
}
