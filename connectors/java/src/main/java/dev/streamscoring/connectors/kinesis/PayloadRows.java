package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The job's view of a Kinesis user record: a row of {@code payload} (the record's data as UTF-8
 * text), {@code arrival_ms} (approximate arrival time, epoch ms) and {@code source_error} (null,
 * or why the record could not be read, for a corrupt KPL aggregate whose raw bytes are then in
 * {@code payload} as base64). Rows are position-based; the names come with the produced type.
 */
public final class PayloadRows implements KinesisRecordDeserializer<Row> {

    private static final long serialVersionUID = 1L;

    public static final String PAYLOAD = "payload";
    public static final String ARRIVAL_MS = "arrival_ms";
    public static final String SOURCE_ERROR = "source_error";

    public static final int PAYLOAD_INDEX = 0;
    public static final int ARRIVAL_MS_INDEX = 1;
    public static final int SOURCE_ERROR_INDEX = 2;

    /** The produced type: {@code ROW<payload STRING, arrival_ms BIGINT, source_error STRING>}. */
    public static TypeInformation<Row> rowType() {
        return Types.ROW_NAMED(
                new String[] {PAYLOAD, ARRIVAL_MS, SOURCE_ERROR},
                Types.STRING,
                Types.LONG,
                Types.STRING);
    }

    @Override
    public void deserialize(
            byte[] userRecordData, KinesisRecordMetadata metadata, Collector<Row> out) {
        out.collect(
                Row.of(
                        new String(userRecordData, StandardCharsets.UTF_8),
                        arrivalMs(metadata),
                        null));
    }

    @Override
    public void corrupt(
            byte[] rawRecordData,
            String reason,
            KinesisRecordMetadata metadata,
            Collector<Row> out) {
        out.collect(
                Row.of(
                        Base64.getEncoder().encodeToString(rawRecordData),
                        arrivalMs(metadata),
                        reason));
    }

    @Override
    public TypeInformation<Row> getProducedType() {
        return rowType();
    }

    private static Long arrivalMs(KinesisRecordMetadata metadata) {
        long arrival = metadata.getApproximateArrivalTimestamp();
        return arrival == KinesisRecordMetadata.NO_ARRIVAL_TIME ? null : arrival;
    }
}
