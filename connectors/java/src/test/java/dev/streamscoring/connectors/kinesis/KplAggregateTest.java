package dev.streamscoring.connectors.kinesis;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KplAggregateTest {

    @Test
    void readsUserRecordsInOrderWithTheirPartitionKeys() throws Exception {
        byte[] aggregate =
                new KplAggregates()
                        .partitionKey("pk-a")
                        .partitionKey("pk-b")
                        .explicitHashKey("123")
                        .record(1, "first")
                        .record(0, "second")
                        .unknownFixedFields()
                        .record(1, "third")
                        .build();

        List<KplAggregate.UserRecord> records = KplAggregate.userRecords(aggregate);

        assertEquals(3, records.size());
        assertEquals("pk-b", records.get(0).partitionKey);
        assertArrayEquals(bytes("first"), records.get(0).data);
        assertEquals("pk-a", records.get(1).partitionKey);
        assertArrayEquals(bytes("second"), records.get(1).data);
        assertEquals("pk-b", records.get(2).partitionKey);
        assertArrayEquals(bytes("third"), records.get(2).data);
    }

    @Test
    void partitionKeyTableMayFollowTheRecords() throws Exception {
        byte[] aggregate = new KplAggregates().record(0, "x").partitionKey("late-key").build();

        List<KplAggregate.UserRecord> records = KplAggregate.userRecords(aggregate);

        assertEquals(1, records.size());
        assertEquals("late-key", records.get(0).partitionKey);
    }

    @Test
    void recognisesTheMagicOnly() {
        assertTrue(KplAggregate.isAggregate(new KplAggregates().build()));
        assertFalse(KplAggregate.isAggregate(bytes("{\"a\":1}")));
        assertFalse(KplAggregate.isAggregate(Arrays.copyOf(KplAggregates.MAGIC, 3)));
        assertFalse(KplAggregate.isAggregate(new byte[0]));
    }

    @Test
    void checksumMismatchIsCorrupt() {
        byte[] aggregate = new KplAggregates().partitionKey("k").record(0, "data").build();
        aggregate[aggregate.length - 1] ^= 1;

        assertEquals("checksum mismatch", corruptReason(aggregate));
    }

    @Test
    void changedDataIsCorrupt() {
        byte[] aggregate = new KplAggregates().partitionKey("k").record(0, "data").build();
        aggregate[aggregate.length - 17] ^= 1;

        assertEquals("checksum mismatch", corruptReason(aggregate));
    }

    @Test
    void unreadableProtobufWithValidChecksumIsCorrupt() {
        // A length-delimited field claiming 100 bytes where there are 2.
        byte[] truncated = {0x0A, 100, 'a', 'b'};
        assertEquals("length beyond the aggregate", corruptReason(KplAggregates.frame(truncated)));

        byte[] unterminatedVarint = {0x08, (byte) 0x80};
        assertEquals("truncated protobuf", corruptReason(KplAggregates.frame(unterminatedVarint)));

        byte[] groupWireType = {0x0B};
        assertEquals("unsupported wire type 3", corruptReason(KplAggregates.frame(groupWireType)));
    }

    @Test
    void missingOrOutOfRangePartitionKeyIsCorrupt() {
        byte[] outOfRange = new KplAggregates().partitionKey("k").record(1, "data").build();
        assertEquals("partition key index 1 out of range", corruptReason(outOfRange));

        byte[] noRecordFields = KplAggregates.frame(new byte[] {0x1A, 0x00});
        assertEquals(
                "user record without partition key index or data", corruptReason(noRecordFields));
    }

    @Test
    void tooShortForADigestIsCorrupt() {
        byte[] record = Arrays.copyOf(KplAggregates.MAGIC, 10);

        assertEquals("too short for a digest", corruptReason(record));
    }

    @Test
    void emptyAggregateHasNoUserRecords() throws Exception {
        assertEquals(0, KplAggregate.userRecords(new KplAggregates().build()).size());
    }

    private static String corruptReason(byte[] record) {
        return assertThrows(
                        KplAggregate.CorruptAggregateException.class,
                        () -> KplAggregate.userRecords(record))
                .getMessage();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
