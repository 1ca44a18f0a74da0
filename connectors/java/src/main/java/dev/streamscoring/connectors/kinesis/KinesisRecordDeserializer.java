package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.util.Collector;

import java.io.IOException;
import java.io.Serializable;

/**
 * Turns the user records read by {@link KinesisStreamSource} into stream elements. Unlike a plain
 * {@link DeserializationSchema} it sees each record's metadata and is told about records that
 * cannot be read at all (corrupt KPL aggregates), so it can turn them into data instead of failing
 * the job.
 */
public interface KinesisRecordDeserializer<T> extends Serializable, ResultTypeQueryable<T> {

    /** Called once per reader before the first record. */
    default void open(DeserializationSchema.InitializationContext context) throws Exception {}

    /** Emits the elements of one user record (a whole Kinesis record, or one of an aggregate). */
    void deserialize(byte[] userRecordData, KinesisRecordMetadata metadata, Collector<T> out)
            throws IOException;

    /**
     * Called instead of {@link #deserialize} for a Kinesis record that carries the KPL aggregation
     * magic bytes but cannot be read as an aggregate. Must not throw: the record is skipped after
     * this call. The metadata's sub-sequence number is -1.
     */
    void corrupt(
            byte[] rawRecordData, String reason, KinesisRecordMetadata metadata, Collector<T> out);
}
