package dev.streamscoring.connectors.kinesis;

import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.RequestEntryWrapper;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;

import java.io.ByteArrayOutputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SerializersTest {

    private static final String SEQUENCE =
            "49590338271490256608559692538361571095921575989136588898";

    private static final List<KinesisShardSplit> SPLITS =
            Arrays.asList(
                    new KinesisShardSplit("shardId-000000000000", StartingPosition.latest()),
                    new KinesisShardSplit("shardId-000000000001", StartingPosition.trimHorizon()),
                    new KinesisShardSplit(
                            "shardId-000000000002",
                            StartingPosition.atTimestamp(
                                    Instant.parse("2024-01-31T12:00:00.123456789Z"))),
                    new KinesisShardSplit(
                            "shardId-000000000003", StartingPosition.afterSequenceNumber(SEQUENCE)),
                    new KinesisShardSplit(
                            "shardId-000000000004",
                            StartingPosition.atSequenceNumber(SEQUENCE, 7L),
                            new LinkedHashSet<>(
                                    Arrays.asList("shardId-000000000001", "shardId-000000000002")),
                            "0",
                            "170141183460469231731687303715884105727",
                            KinesisShardSplit.Status.UNFINISHED),
                    new KinesisShardSplit(
                                    "shardId-000000000005",
                                    StartingPosition.afterSequenceNumber(SEQUENCE),
                                    Collections.singleton("shardId-000000000004"),
                                    "1",
                                    "2",
                                    KinesisShardSplit.Status.UNFINISHED)
                            .withStatus(KinesisShardSplit.Status.FULLY_READ),
                    new KinesisShardSplit("shardId-000000000006", StartingPosition.trimHorizon())
                            .withStatus(KinesisShardSplit.Status.VANISHED));

    /** The split layout of version 1, as it was written before version 2 existed. */
    private static void writeVersion1(String shardId, StartingPosition position, DataOutput out)
            throws IOException {
        out.writeUTF(shardId);
        out.writeUTF(position.getType().name());
        switch (position.getType()) {
            case AFTER_SEQUENCE_NUMBER:
                out.writeUTF(position.getSequenceNumber());
                break;
            case AT_TIMESTAMP:
                out.writeLong(position.getTimestamp().getEpochSecond());
                out.writeInt(position.getTimestamp().getNano());
                break;
            default:
                break;
        }
    }

    @Test
    void splitRoundTrip() throws Exception {
        KinesisShardSplitSerializer serializer = new KinesisShardSplitSerializer();
        assertEquals(2, serializer.getVersion());
        for (KinesisShardSplit split : SPLITS) {
            byte[] bytes = serializer.serialize(split);
            assertEquals(split, serializer.deserialize(serializer.getVersion(), bytes));
        }
    }

    @Test
    void version1SplitsStillDeserialize() throws Exception {
        KinesisShardSplitSerializer serializer = new KinesisShardSplitSerializer();
        for (KinesisShardSplit split : SPLITS.subList(0, 4)) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            writeVersion1(
                    split.getShardId(), split.getStartingPosition(), new DataOutputStream(bytes));
            KinesisShardSplit restored = serializer.deserialize(1, bytes.toByteArray());
            assertEquals(split, restored);
            assertEquals(KinesisShardSplit.Status.UNFINISHED, restored.getStatus());
        }
        // Literal bytes of a version 1 split: "shardId-000000000000" from LATEST.
        byte[] literal = {
            0, 20, 's', 'h', 'a', 'r', 'd', 'I', 'd', '-', '0', '0', '0', '0', '0', '0', '0', '0',
            '0', '0', '0', '0', 0, 6, 'L', 'A', 'T', 'E', 'S', 'T'
        };
        assertEquals(SPLITS.get(0), serializer.deserialize(1, literal));
    }

    @Test
    void unknownSplitVersionIsRejected() throws Exception {
        KinesisShardSplitSerializer serializer = new KinesisShardSplitSerializer();
        byte[] bytes = serializer.serialize(SPLITS.get(0));
        assertThrows(IOException.class, () -> serializer.deserialize(99, bytes));
        assertThrows(IOException.class, () -> serializer.deserialize(0, bytes));
    }

    @Test
    void enumeratorStateRoundTrip() throws Exception {
        Map<String, Integer> owners = new LinkedHashMap<>();
        owners.put("shardId-000000000007", 1);
        owners.put("shardId-000000000008", KinesisEnumeratorState.UNKNOWN_OWNER);
        KinesisEnumeratorState state =
                new KinesisEnumeratorState(
                        true,
                        owners,
                        SPLITS,
                        Collections.singleton("shardId-000000000009"),
                        Collections.singleton("shardId-000000000010"));
        KinesisEnumeratorStateSerializer serializer = new KinesisEnumeratorStateSerializer();
        assertEquals(2, serializer.getVersion());
        assertEquals(
                state,
                serializer.deserialize(serializer.getVersion(), serializer.serialize(state)));
        KinesisEnumeratorState empty = KinesisEnumeratorState.empty();
        assertEquals(
                empty,
                serializer.deserialize(serializer.getVersion(), serializer.serialize(empty)));
    }

    @Test
    void version1EnumeratorStateStillDeserializes() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(1);
        out.writeInt(2);
        out.writeUTF("shardId-000000000007");
        out.writeUTF("shardId-000000000008");
        out.writeInt(4);
        for (KinesisShardSplit split : SPLITS.subList(0, 4)) {
            writeVersion1(split.getShardId(), split.getStartingPosition(), out);
        }
        out.flush();

        KinesisEnumeratorState state =
                new KinesisEnumeratorStateSerializer().deserialize(1, bytes.toByteArray());

        Map<String, Integer> owners = new LinkedHashMap<>();
        owners.put("shardId-000000000007", KinesisEnumeratorState.UNKNOWN_OWNER);
        owners.put("shardId-000000000008", KinesisEnumeratorState.UNKNOWN_OWNER);
        assertEquals(
                new KinesisEnumeratorState(
                        true,
                        owners,
                        SPLITS.subList(0, 4),
                        Collections.emptySet(),
                        Collections.emptySet()),
                state);

        // Literal bytes of an empty version 1 state: split version 1, no shards.
        byte[] empty = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
        assertEquals(
                KinesisEnumeratorState.empty(),
                new KinesisEnumeratorStateSerializer().deserialize(1, empty));
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
    void splitStateResumesInsideAnAggregateAtItsRecord() {
        KinesisShardSplit split = SPLITS.get(4);
        KinesisShardSplitState state = new KinesisShardSplitState(split);
        state.setLastEmitted("43", 2L, false);
        assertEquals(
                split.withStartingPosition(StartingPosition.atSequenceNumber("43", 2L)),
                state.toSplit());
        state.setLastEmitted("43", 3L, true);
        assertEquals(
                split.withStartingPosition(StartingPosition.afterSequenceNumber("43")),
                state.toSplit());
    }

    @Test
    void userRecordsUpToTheStoredSubSequenceNumberWereAlreadyEmitted() {
        KinesisShardSplitState state = new KinesisShardSplitState(SPLITS.get(4));
        assertTrue(state.alreadyEmitted(SEQUENCE, 0L));
        assertTrue(state.alreadyEmitted(SEQUENCE, 7L));
        assertFalse(state.alreadyEmitted(SEQUENCE, 8L));
        assertFalse(state.alreadyEmitted("43", 0L));
        KinesisShardSplitState afterRecord = new KinesisShardSplitState(SPLITS.get(3));
        assertFalse(afterRecord.alreadyEmitted(SEQUENCE, -1L));
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
