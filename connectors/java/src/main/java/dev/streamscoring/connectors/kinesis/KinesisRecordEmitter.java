package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.util.Collector;

import software.amazon.awssdk.services.kinesis.model.Record;

import java.time.Instant;
import java.util.List;

/**
 * Turns Kinesis records into stream elements: splits KPL aggregates into their user records, hands
 * each to the deserializer with its metadata, stamps the elements with the record's approximate
 * arrival time (epoch ms) and keeps the split state's position at user-record granularity, so a
 * split restored inside an aggregate skips the user records it already emitted.
 */
final class KinesisRecordEmitter<T> implements RecordEmitter<Record, T, KinesisShardSplitState> {

    private final KinesisRecordDeserializer<T> deserializer;
    private final String streamArn;
    private final TimestampedCollector<T> collector = new TimestampedCollector<>();

    KinesisRecordEmitter(KinesisRecordDeserializer<T> deserializer, String streamArn) {
        this.deserializer = deserializer;
        this.streamArn = streamArn;
    }

    @Override
    public void emitRecord(Record record, SourceOutput<T> output, KinesisShardSplitState splitState)
            throws Exception {
        Instant arrival = record.approximateArrivalTimestamp();
        long arrivalMs =
                arrival == null ? KinesisRecordMetadata.NO_ARRIVAL_TIME : arrival.toEpochMilli();
        String sequenceNumber = record.sequenceNumber();
        String shardId = splitState.getShardId();
        byte[] data = record.data().asByteArrayUnsafe();
        collector.output = output;
        collector.timestampMs = arrivalMs;

        if (!KplAggregate.isAggregate(data)) {
            if (!splitState.alreadyEmitted(sequenceNumber, -1)) {
                deserializer.deserialize(
                        data,
                        new KinesisRecordMetadata(
                                streamArn,
                                shardId,
                                sequenceNumber,
                                -1,
                                record.partitionKey(),
                                arrivalMs),
                        collector);
            }
            splitState.setLastEmitted(sequenceNumber, -1, true);
            return;
        }

        List<KplAggregate.UserRecord> userRecords;
        try {
            userRecords = KplAggregate.userRecords(data);
        } catch (KplAggregate.CorruptAggregateException e) {
            if (!splitState.alreadyEmitted(sequenceNumber, -1)) {
                deserializer.corrupt(
                        data,
                        "corrupt KPL aggregate: " + e.getMessage(),
                        new KinesisRecordMetadata(
                                streamArn,
                                shardId,
                                sequenceNumber,
                                -1,
                                record.partitionKey(),
                                arrivalMs),
                        collector);
            }
            splitState.setLastEmitted(sequenceNumber, -1, true);
            return;
        }
        if (userRecords.isEmpty()) {
            splitState.setLastEmitted(sequenceNumber, -1, true);
            return;
        }
        int last = userRecords.size() - 1;
        for (int sub = 0; sub <= last; sub++) {
            KplAggregate.UserRecord userRecord = userRecords.get(sub);
            if (!splitState.alreadyEmitted(sequenceNumber, sub)) {
                deserializer.deserialize(
                        userRecord.data,
                        new KinesisRecordMetadata(
                                streamArn,
                                shardId,
                                sequenceNumber,
                                sub,
                                userRecord.partitionKey,
                                arrivalMs),
                        collector);
            }
            splitState.setLastEmitted(sequenceNumber, sub, sub == last);
        }
    }

    /** Forwards deserialized values to the current source output with the record timestamp. */
    private static final class TimestampedCollector<T> implements Collector<T> {
        SourceOutput<T> output;
        long timestampMs;

        @Override
        public void collect(T value) {
            if (timestampMs == KinesisRecordMetadata.NO_ARRIVAL_TIME) {
                output.collect(value);
            } else {
                output.collect(value, timestampMs);
            }
        }

        @Override
        public void close() {}
    }
}
