package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.Record;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KinesisRecordEmitterTest {

    private static final String SHARD = "shardId-000000000007";
    private static final long ARRIVAL_MS = 1_795_428_001_250L;

    private final KinesisShardSplitState state =
            new KinesisShardSplitState(
                    new KinesisShardSplit(SHARD, StartingPosition.trimHorizon()));

    @Test
    void plainRecordBecomesOnePayloadRowStampedWithItsArrivalTime() throws Exception {
        CapturingOutput<Row> output = new CapturingOutput<>();

        emitter(new PayloadRows()).emitRecord(record("100", bytes("a,b,c")), output, state);

        assertEquals(Arrays.asList(Row.of("a,b,c", ARRIVAL_MS, null)), output.values);
        assertEquals(Arrays.asList(ARRIVAL_MS), output.timestamps);
        assertEquals(StartingPosition.afterSequenceNumber("100"), startingPosition());
    }

    @Test
    void aggregateBecomesOneRowPerUserRecordInOrder() throws Exception {
        byte[] aggregate =
                new KplAggregates()
                        .partitionKey("p")
                        .record(0, "one")
                        .record(0, "two")
                        .record(0, "three")
                        .build();
        CapturingOutput<Row> output = new CapturingOutput<>();

        emitter(new PayloadRows()).emitRecord(record("200", aggregate), output, state);

        assertEquals(
                Arrays.asList(
                        Row.of("one", ARRIVAL_MS, null),
                        Row.of("two", ARRIVAL_MS, null),
                        Row.of("three", ARRIVAL_MS, null)),
                output.values);
        assertEquals(Arrays.asList(ARRIVAL_MS, ARRIVAL_MS, ARRIVAL_MS), output.timestamps);
        assertEquals(StartingPosition.afterSequenceNumber("200"), startingPosition());
    }

    @Test
    void deserializerSeesMetadataOfEachUserRecord() throws Exception {
        byte[] aggregate =
                new KplAggregates()
                        .partitionKey("p0")
                        .partitionKey("p1")
                        .record(1, "x")
                        .record(0, "y")
                        .build();
        List<String> seen = new ArrayList<>();
        KinesisRecordDeserializer<String> describing =
                new KinesisRecordDeserializer<String>() {
                    @Override
                    public void deserialize(
                            byte[] data,
                            KinesisRecordMetadata m,
                            Collector<String> out) {
                        seen.add(
                                String.join(
                                        " ",
                                        m.getStreamArn(),
                                        m.getShardId(),
                                        m.getSequenceNumber(),
                                        String.valueOf(m.getSubSequenceNumber()),
                                        m.getPartitionKey(),
                                        String.valueOf(m.getApproximateArrivalTimestamp()),
                                        new String(data, StandardCharsets.UTF_8)));
                    }

                    @Override
                    public void corrupt(
                            byte[] raw,
                            String reason,
                            KinesisRecordMetadata m,
                            Collector<String> out) {
                        seen.add("corrupt " + m.getSubSequenceNumber() + " " + reason);
                    }

                    @Override
                    public TypeInformation<String> getProducedType() {
                        return Types.STRING;
                    }
                };
        KinesisRecordEmitter<String> emitter = new KinesisRecordEmitter<>(describing, "arn:s");

        emitter.emitRecord(record("300", aggregate), new CapturingOutput<>(), state);
        emitter.emitRecord(record("301", bytes("plain")), new CapturingOutput<>(), state);

        assertEquals(
                Arrays.asList(
                        "arn:s " + SHARD + " 300 0 p1 " + ARRIVAL_MS + " x",
                        "arn:s " + SHARD + " 300 1 p0 " + ARRIVAL_MS + " y",
                        "arn:s " + SHARD + " 301 -1 pk " + ARRIVAL_MS + " plain"),
                seen);
    }

    @Test
    void corruptAggregateBecomesAnErrorRowWithTheRawRecordAsBase64() throws Exception {
        byte[] aggregate = new KplAggregates().partitionKey("p").record(0, "one").build();
        aggregate[aggregate.length - 1] ^= 1;
        CapturingOutput<Row> output = new CapturingOutput<>();

        emitter(new PayloadRows()).emitRecord(record("400", aggregate), output, state);

        assertEquals(
                Arrays.asList(
                        Row.of(
                                Base64.getEncoder().encodeToString(aggregate),
                                ARRIVAL_MS,
                                "corrupt KPL aggregate: checksum mismatch")),
                output.values);
        assertEquals(StartingPosition.afterSequenceNumber("400"), startingPosition());
    }

    @Test
    void plainSchemaSkipsCorruptAggregatesAndReadsUserRecords() throws Exception {
        byte[] corrupt = new KplAggregates().partitionKey("p").record(0, "lost").build();
        corrupt[5] ^= 1;
        byte[] aggregate = new KplAggregates().partitionKey("p").record(0, "kept").build();
        CapturingOutput<String> output = new CapturingOutput<>();
        KinesisRecordEmitter<String> emitter =
                emitter(new DeserializationSchemaAdapter<>(new SimpleStringSchema()));

        emitter.emitRecord(record("500", corrupt), output, state);
        emitter.emitRecord(record("501", aggregate), output, state);

        assertEquals(Arrays.asList("kept"), output.values);
        assertEquals(StartingPosition.afterSequenceNumber("501"), startingPosition());
    }

    private StartingPosition startingPosition() {
        return state.toSplit().getStartingPosition();
    }

    private static <T> KinesisRecordEmitter<T> emitter(KinesisRecordDeserializer<T> deserializer) {
        return new KinesisRecordEmitter<>(deserializer, "arn:aws:kinesis:us-east-1:1:stream/s");
    }

    private static Record record(String sequenceNumber, byte[] data) {
        return Record.builder()
                .sequenceNumber(sequenceNumber)
                .partitionKey("pk")
                .approximateArrivalTimestamp(Instant.ofEpochMilli(ARRIVAL_MS))
                .data(SdkBytes.fromByteArray(data))
                .build();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** Keeps what the emitter collects, with the timestamps given. */
    private static final class CapturingOutput<T> implements SourceOutput<T> {
        final List<T> values = new ArrayList<>();
        final List<Long> timestamps = new ArrayList<>();

        @Override
        public void collect(T record) {
            values.add(record);
            timestamps.add(null);
        }

        @Override
        public void collect(T record, long timestamp) {
            values.add(record);
            timestamps.add(timestamp);
        }

        @Override
        public void emitWatermark(Watermark watermark) {}

        @Override
        public void markIdle() {}

        @Override
        public void markActive() {}
    }
}
