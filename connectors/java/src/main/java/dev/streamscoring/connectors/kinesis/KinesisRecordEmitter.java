package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.util.Collector;

import software.amazon.awssdk.services.kinesis.model.Record;

import java.time.Instant;

/**
 * Turns Kinesis records into stream elements with the deserialization schema, stamping each with
 * the record's approximate arrival time (epoch milliseconds), and records the sequence number of
 * the last emitted record in the split state.
 */
final class KinesisRecordEmitter<T> implements RecordEmitter<Record, T, KinesisShardSplitState> {

    private final DeserializationSchema<T> deserializationSchema;
    private final TimestampedCollector<T> collector = new TimestampedCollector<>();

    KinesisRecordEmitter(DeserializationSchema<T> deserializationSchema) {
        this.deserializationSchema = deserializationSchema;
    }

    @Override
    public void emitRecord(Record record, SourceOutput<T> output, KinesisShardSplitState splitState)
            throws Exception {
        Instant arrival = record.approximateArrivalTimestamp();
        collector.output = output;
        collector.timestampMs = arrival == null ? null : arrival.toEpochMilli();
        deserializationSchema.deserialize(record.data().asByteArrayUnsafe(), collector);
        splitState.setLastEmittedSequenceNumber(record.sequenceNumber());
    }

    /** Forwards deserialized values to the current source output with the record timestamp. */
    private static final class TimestampedCollector<T> implements Collector<T> {
        SourceOutput<T> output;
        Long timestampMs;

        @Override
        public void collect(T value) {
            if (timestampMs == null) {
                output.collect(value);
            } else {
                output.collect(value, timestampMs);
            }
        }

        @Override
        public void close() {}
    }
}
