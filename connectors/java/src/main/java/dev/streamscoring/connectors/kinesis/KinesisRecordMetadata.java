package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.eventtime.TimestampAssigner;

import java.util.Objects;

/**
 * Where a user record came from: its stream, shard, sequence number, sub-sequence number inside a
 * KPL aggregate (-1 for a record that is not an aggregate), partition key and approximate arrival
 * time.
 */
public final class KinesisRecordMetadata {

    /** Arrival time of a record that carries none (never the case on Kinesis itself). */
    public static final long NO_ARRIVAL_TIME = TimestampAssigner.NO_TIMESTAMP;

    private final String streamArn;
    private final String shardId;
    private final String sequenceNumber;
    private final long subSequenceNumber;
    private final String partitionKey;
    private final long approximateArrivalTimestamp;

    public KinesisRecordMetadata(
            String streamArn,
            String shardId,
            String sequenceNumber,
            long subSequenceNumber,
            String partitionKey,
            long approximateArrivalTimestamp) {
        this.streamArn = streamArn;
        this.shardId = shardId;
        this.sequenceNumber = Objects.requireNonNull(sequenceNumber, "sequenceNumber");
        this.subSequenceNumber = subSequenceNumber;
        this.partitionKey = partitionKey;
        this.approximateArrivalTimestamp = approximateArrivalTimestamp;
    }

    /** The stream's ARN, or null where the reader does not know it. */
    public String getStreamArn() {
        return streamArn;
    }

    public String getShardId() {
        return shardId;
    }

    public String getSequenceNumber() {
        return sequenceNumber;
    }

    /** The user record's index inside its KPL aggregate, or -1 if the record is not one. */
    public long getSubSequenceNumber() {
        return subSequenceNumber;
    }

    /** The user record's partition key (inside an aggregate, the one of that user record). */
    public String getPartitionKey() {
        return partitionKey;
    }

    /** Epoch milliseconds, or {@link #NO_ARRIVAL_TIME}. */
    public long getApproximateArrivalTimestamp() {
        return approximateArrivalTimestamp;
    }

    @Override
    public String toString() {
        return shardId
                + "/"
                + sequenceNumber
                + (subSequenceNumber < 0 ? "" : "#" + subSequenceNumber);
    }
}
