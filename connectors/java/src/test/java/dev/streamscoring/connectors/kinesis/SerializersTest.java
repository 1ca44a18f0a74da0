package dev.streamscoring.connectors.kinesis;

import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.RequestEntryWrapper;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SerializersTest {

    private static final List<KinesisShardSplit> SPLITS =
            Arrays.asList(
                    new KinesisShardSplit("shardId-000000000000", StartingPosition.latest()),
                    new KinesisShardSplit("shardId-000000000001", StartingPosition.trimHorizon()),
                    new KinesisShardSplit(
                            "shardId-000000000002",
                            StartingPosition.atTimestamp(
                                    Instant.parse("2024-01-31T12:00:00.123456789Z"))),
                    new KinesisShardSplit(
                            "shardId-000000000003",
                            StartingPosition.afterSequenceNumber(
                                    "49590338271490256608559692538361571095921575989136588898")));

    @Test
    void splitRoundTrip() throws Exception {
        KinesisShardSplitSerializer serializer = new KinesisShardSplitSerializer();
        for (KinesisShardSplit split : SPLITS) {
            byte[] bytes = serializer.serialize(split);
            assertEquals(split, serializer.deserialize(serializer.getVersion(), bytes));
        }
    }

    @Test
    void unknownSplitVersionIsRejected() throws Exception {
        KinesisShardSplitSerializer serializer = new KinesisShardSplitSerializer();
        byte[] bytes = serializer.serialize(SPLITS.get(0));
        assertThrows(java.io.IOException.class, () -> serializer.deserialize(99, bytes));
    }

    @Test
    void enumeratorStateRoundTrip() throws Exception {
        KinesisEnumeratorState state =
                new KinesisEnumeratorState(
                        new LinkedHashSet<>(
                                Arrays.asList("shardId-000000000007", "shardId-000000000008")),
                        SPLITS);
        KinesisEnumeratorStateSerializer serializer = new KinesisEnumeratorStateSerializer();
        assertEquals(
                state,
                serializer.deserialize(serializer.getVersion(), serializer.serialize(state)));
    }

    @Test
    void splitStateResumesAfterLastEmittedRecord() {
        KinesisShardSplitState state = new KinesisShardSplitState(SPLITS.get(1));
        assertEquals(SPLITS.get(1), state.toSplit());
        state.setLastEmittedSequenceNumber("42");
        assertEquals(
                new KinesisShardSplit(
                        "shardId-000000000001", StartingPosition.afterSequenceNumber("42")),
                state.toSplit());
    }

    @Test
    void shardOwnerIsShardNumberModuloParallelism() {
        assertEquals(0, KinesisShardEnumerator.ownerOf("shardId-000000000000", 2));
        assertEquals(1, KinesisShardEnumerator.ownerOf("shardId-000000000003", 2));
        assertEquals(2, KinesisShardEnumerator.ownerOf("shardId-000000000005", 3));
        int owner = KinesisShardEnumerator.ownerOf("no-digits", 4);
        assertEquals(owner, KinesisShardEnumerator.ownerOf("no-digits", 4));
    }

    @Test
    void kinesisSinkStateRoundTrip() throws Exception {
        PutRecordsRequestEntry entry =
                PutRecordsRequestEntry.builder()
                        .data(SdkBytes.fromUtf8String("{\"id\":1}"))
                        .partitionKey("abc")
                        .build();
        KinesisStreamSinkStateSerializer serializer = new KinesisStreamSinkStateSerializer();
        BufferedRequestState<PutRecordsRequestEntry> state =
                new BufferedRequestState<>(Arrays.asList(new RequestEntryWrapper<>(entry, 11L)));
        BufferedRequestState<PutRecordsRequestEntry> restored =
                serializer.deserialize(serializer.getVersion(), serializer.serialize(state));
        assertEquals(entry, restored.getBufferedRequestEntries().get(0).getRequestEntry());
        assertEquals(11L, restored.getBufferedRequestEntries().get(0).getSize());
    }

    @Test
    void partitionKeyIsStableHexMd5() {
        KinesisStreamElementConverter<String> converter =
                new KinesisStreamElementConverter<>(s -> s.getBytes(StandardCharsets.UTF_8));
        assertEquals(
                "5d41402abc4b2a76b9719d911017c592",
                converter.partitionKey("hello".getBytes(StandardCharsets.UTF_8)));
    }
}
