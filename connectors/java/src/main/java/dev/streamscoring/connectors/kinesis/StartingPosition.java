package dev.streamscoring.connectors.kinesis;

import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

import java.io.Serializable;
import java.time.Instant;
import java.util.Objects;

/** Where to start reading a shard: one of the Kinesis shard iterator types. */
public final class StartingPosition implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Sub-sequence number of a record that is not a KPL aggregate. */
    public static final long NO_SUB_SEQUENCE_NUMBER = -1L;

    /** The kinds of start position; the names are part of the serialized split format. */
    public enum Type {
        LATEST,
        TRIM_HORIZON,
        AT_TIMESTAMP,
        AFTER_SEQUENCE_NUMBER,
        /**
         * At a KPL aggregate whose user records up to a sub-sequence number were already emitted.
         */
        AT_SEQUENCE_NUMBER
    }

    private final Type type;
    private final String sequenceNumber;
    private final long subSequenceNumber;
    private final Instant timestamp;

    private StartingPosition(
            Type type, String sequenceNumber, long subSequenceNumber, Instant timestamp) {
        this.type = Objects.requireNonNull(type, "type");
        this.sequenceNumber = sequenceNumber;
        this.subSequenceNumber = subSequenceNumber;
        this.timestamp = timestamp;
    }

    /**
     * The tip of the shard when the iterator is taken. Only used as a configured initial position:
     * the enumerator turns it into {@link #atTimestamp} of its first discovery, so that a split
     * never resolves "latest" again after a restore.
     */
    public static StartingPosition latest() {
        return new StartingPosition(Type.LATEST, null, NO_SUB_SEQUENCE_NUMBER, null);
    }

    public static StartingPosition trimHorizon() {
        return new StartingPosition(Type.TRIM_HORIZON, null, NO_SUB_SEQUENCE_NUMBER, null);
    }

    public static StartingPosition atTimestamp(Instant timestamp) {
        return new StartingPosition(
                Type.AT_TIMESTAMP,
                null,
                NO_SUB_SEQUENCE_NUMBER,
                Objects.requireNonNull(timestamp, "timestamp"));
    }

    public static StartingPosition afterSequenceNumber(String sequenceNumber) {
        return new StartingPosition(
                Type.AFTER_SEQUENCE_NUMBER,
                Objects.requireNonNull(sequenceNumber, "sequenceNumber"),
                NO_SUB_SEQUENCE_NUMBER,
                null);
    }

    /**
     * Starts at the record with this sequence number; of its user records (a KPL aggregate), those
     * with a sub-sequence number up to {@code lastEmittedSubSequenceNumber} were already emitted.
     */
    public static StartingPosition atSequenceNumber(
            String sequenceNumber, long lastEmittedSubSequenceNumber) {
        return new StartingPosition(
                Type.AT_SEQUENCE_NUMBER,
                Objects.requireNonNull(sequenceNumber, "sequenceNumber"),
                lastEmittedSubSequenceNumber,
                null);
    }

    public Type getType() {
        return type;
    }

    /** The sequence number for AFTER_ and AT_SEQUENCE_NUMBER, otherwise null. */
    public String getSequenceNumber() {
        return sequenceNumber;
    }

    /**
     * For {@link Type#AT_SEQUENCE_NUMBER}, the last sub-sequence number already emitted; otherwise
     * {@link #NO_SUB_SEQUENCE_NUMBER}.
     */
    public long getSubSequenceNumber() {
        return subSequenceNumber;
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
            case AT_SEQUENCE_NUMBER:
                request.shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER)
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
                && subSequenceNumber == that.subSequenceNumber
                && Objects.equals(sequenceNumber, that.sequenceNumber)
                && Objects.equals(timestamp, that.timestamp);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, sequenceNumber, subSequenceNumber, timestamp);
    }

    @Override
    public String toString() {
        switch (type) {
            case AFTER_SEQUENCE_NUMBER:
                return "AFTER_SEQUENCE_NUMBER(" + sequenceNumber + ")";
            case AT_SEQUENCE_NUMBER:
                return "AT_SEQUENCE_NUMBER(" + sequenceNumber + ", " + subSequenceNumber + ")";
            case AT_TIMESTAMP:
                return "AT_TIMESTAMP(" + timestamp + ")";
            default:
                return type.name();
        }
    }
}
