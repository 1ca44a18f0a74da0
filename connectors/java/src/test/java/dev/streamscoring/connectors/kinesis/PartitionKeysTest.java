package dev.streamscoring.connectors.kinesis;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PartitionKeysTest {

    private static final PartitionKeys VENDOR_WINDOW =
            new PartitionKeys("vendor_id", "window_start");

    private static String key(PartitionKeys keys, String payload) {
        return keys.keyOf(payload.getBytes(StandardCharsets.UTF_8));
    }

    private static String md5Hex(String text) throws Exception {
        byte[] digest =
                MessageDigest.getInstance("MD5").digest(text.getBytes(StandardCharsets.UTF_8));
        return String.format("%032x", new BigInteger(1, digest));
    }

    private static String repeat(char c, int times) {
        return new String(new char[times]).replace('\0', c);
    }

    @Test
    void keyFieldsJoinedInConfiguredOrder() {
        assertEquals(
                "1|2024-01-31T12:00:00Z",
                key(
                        VENDOR_WINDOW,
                        "{\"window_start\":\"2024-01-31T12:00:00Z\",\"trips\":3,"
                                + "\"vendor_id\":\"1\","
                                + "\"window_end\":\"2024-01-31T12:01:00Z\"}\n"));
    }

    @Test
    void escapedQuotesAndSeparatorsInValuesAreKeptAsText() {
        assertEquals(
                "a \"quoted\" | id|w\\1",
                key(
                        VENDOR_WINDOW,
                        "{\"vendor_id\":\"a \\\"quoted\\\" | id\",\"window_start\":\"w\\\\1\"}"));
    }

    @Test
    void onlyTopLevelFieldsCount() {
        assertEquals(
                "7|w",
                key(
                        VENDOR_WINDOW,
                        "{\"note\":\"\\\"vendor_id\\\":\\\"decoy\\\"\","
                                + "\"meta\":{\"vendor_id\":\"nested\","
                                + "\"list\":[{\"vendor_id\":2}]},"
                                + "\"vendor_id\":\"7\",\"window_start\":\"w\"}"));
    }

    @Test
    void missingAndNullFieldsCountAsEmpty() {
        assertEquals("|w", key(VENDOR_WINDOW, "{\"window_start\":\"w\"}"));
        assertEquals("3|", key(VENDOR_WINDOW, "{\"vendor_id\":\"3\",\"window_start\":null}"));
        assertEquals("|", key(VENDOR_WINDOW, "{}"));
    }

    @Test
    void anEmptyKeyBecomesThePlaceholder() {
        assertEquals("-", key(new PartitionKeys("vendor_id"), "{\"other\":1}"));
        assertEquals("-", key(new PartitionKeys("vendor_id"), "{\"vendor_id\":\"\"}"));
    }

    @Test
    void numbersBooleansAndNestedValuesAsWritten() {
        assertEquals(
                "42|1.50|true|{\"a\":[1,\"x\"]}",
                key(
                        new PartitionKeys("n", "f", "b", "o"),
                        "{\"o\":{\"a\": [1, \"x\"]},\"b\":true,\"f\":1.50,\"n\":42}"));
    }

    @Test
    void firstOfDuplicateFieldsWins() {
        assertEquals(
                "first", key(new PartitionKeys("id"), "{\"id\":\"first\",\"id\":\"second\"}"));
    }

    @Test
    void keysOverTheLimitKeepAPrefixAndTheHashOfTheWholeKey() throws Exception {
        String vendor = repeat('v', 300);
        String key =
                key(VENDOR_WINDOW, "{\"vendor_id\":\"" + vendor + "\",\"window_start\":\"w\"}");
        assertEquals(256, key.length());
        assertEquals(repeat('v', 223) + "#" + md5Hex(vendor + "|w"), key);
        assertNotEquals(
                key,
                key(VENDOR_WINDOW, "{\"vendor_id\":\"" + vendor + "\",\"window_start\":\"x\"}"));
    }

    @Test
    void keysOfExactlyTheLimitAreKept() {
        String vendor = repeat('v', 254);
        assertEquals(
                vendor + "|w",
                key(VENDOR_WINDOW, "{\"vendor_id\":\"" + vendor + "\",\"window_start\":\"w\"}"));
    }

    @Test
    void truncationDoesNotSplitASurrogatePair() throws Exception {
        // U+1F695 (taxi) is two UTF-16 chars; its first would be the 223rd char of the key.
        String vendor = repeat('v', 222) + "\uD83D\uDE95" + repeat('v', 40);
        String key = key(new PartitionKeys("vendor_id"), "{\"vendor_id\":\"" + vendor + "\"}");
        assertEquals(repeat('v', 222) + "#" + md5Hex(vendor), key);
    }

    @Test
    void withoutKeyFieldsOrForNonJsonTheKeyIsTheMd5OfThePayload() throws Exception {
        assertEquals("5d41402abc4b2a76b9719d911017c592", key(new PartitionKeys(), "hello"));
        assertEquals(md5Hex("not json\n"), key(VENDOR_WINDOW, "not json\n"));
        assertEquals(md5Hex("[1,2]"), key(VENDOR_WINDOW, "[1,2]"));
        assertEquals(md5Hex("{\"vendor_id\":"), key(VENDOR_WINDOW, "{\"vendor_id\":"));
    }

    @Test
    void builderRefusesBlankOrRepeatedKeyFields() {
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                KinesisStreamSink.<String>builder()
                                        .setStreamName("out")
                                        .setSerializationSchema(
                                                s -> s.getBytes(StandardCharsets.UTF_8))
                                        .setPartitionKeyFields("vendor_id", "vendor_id")
                                        .build());
        assertEquals(
                "KinesisStreamSink: partition key fields must be distinct non-empty names, got"
                        + " [vendor_id, vendor_id]",
                error.getMessage());
    }
}
