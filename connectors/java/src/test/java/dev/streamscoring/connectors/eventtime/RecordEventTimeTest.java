package dev.streamscoring.connectors.eventtime;

import org.junit.jupiter.api.Test;

import static dev.streamscoring.connectors.eventtime.RecordEventTime.NOT_READABLE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Expected values are what the job's SQL (udfs/records.py) computed for the same payloads on
 * Flink 2.2.1, so a difference here is a difference from the SQL.
 */
class RecordEventTimeTest {

    private static final long T_250 = 1_795_428_001_250L; // 2026-11-23T10:00:01.250Z

    private static RecordEventTime json(String timeFormat) {
        return RecordEventTime.of("json", "", "t", timeFormat);
    }

    private static RecordEventTime csv(String timeFormat) {
        return RecordEventTime.of("csv", "a,t,b", "t", timeFormat);
    }

    @Test
    void jsonEpochMillis() {
        RecordEventTime time = json("epoch_ms");
        assertEquals(1700000000000L, time.eventTimeMs("{\"t\":1700000000000}"));
        assertEquals(1700000000000L, time.eventTimeMs("{\"t\":\"1700000000000\"}"));
        assertEquals(1700000000123L, time.eventTimeMs("{\"t\":\" 1700000000123 \"}"));
        assertEquals(1700000000000L, time.eventTimeMs("{\"t\":1.7e12}"));
        assertEquals(1700000000123L, time.eventTimeMs("{\"t\":1700000000123.9}"));
        assertEquals(9007199254740992L, time.eventTimeMs("{\"t\":9007199254740993}"));
        assertEquals(12, time.eventTimeMs("{\"t\":\"12d\"}"));
        assertEquals(12, time.eventTimeMs("{\"t\":\"\\u0031\\u0032\"}"));
        assertEquals(Long.MAX_VALUE, time.eventTimeMs("{\"t\":\"Infinity\"}"));
    }

    @Test
    void jsonEpochSeconds() {
        RecordEventTime time = json("epoch_s");
        assertEquals(1700000000000L, time.eventTimeMs("{\"t\":1700000000}"));
        assertEquals(1700000000500L, time.eventTimeMs("{\"t\":1700000000.5}"));
        assertEquals(1700000000123L, time.eventTimeMs("{\"t\":\"1700000000.123\"}"));
        assertEquals(12000, time.eventTimeMs("{\"t\":\"12d\"}"));
    }

    @Test
    void jsonIso8601() {
        RecordEventTime time = json("iso8601");
        assertEquals(T_250, time.eventTimeMs("{\"t\":\"2026-11-23T10:00:01.250Z\"}"));
        assertEquals(T_250 - 250, time.eventTimeMs("{\"t\":\"2026-11-23 10:00:01\"}"));
        assertEquals(T_250 - 50, time.eventTimeMs("{\"t\":\"2026-11-23T10:00:01.2Z\"}"));
        assertEquals(T_250 - 127, time.eventTimeMs("{\"t\":\"2026-11-23T10:00:01.123456Z\"}"));
        assertEquals(T_250 - 250, time.eventTimeMs("{\"t\":\"2026-11-23T10:00:01.Z\"}"));
        assertEquals(T_250 - 250, time.eventTimeMs("{\"t\":\"  2026-11-23T10:00:01Z \"}"));
        assertEquals(1795392000000L, time.eventTimeMs("{\"t\":\"2026-11-23\"}"));
        assertEquals(1770091506000L, time.eventTimeMs("{\"t\":\"2026-2-3 4:05:06\"}"));
        // Flink's cast resolves leniently: day 30 of February is its last day, 24:00 midnight.
        assertEquals(1772236800000L, time.eventTimeMs("{\"t\":\"2026-02-30 00:00:00\"}"));
        assertEquals(1795478400000L, time.eventTimeMs("{\"t\":\"2026-11-23T24:00:00Z\"}"));
        assertEquals(1, time.eventTimeMs("{\"t\":\"1970-01-01T00:00:00.001Z\"}"));
        assertEquals(2147483647999L, time.eventTimeMs("{\"t\":\"2038-01-19T03:14:07.999Z\"}"));
    }

    @Test
    void isoTimesTheSqlCannotConvertAreNotReadable() {
        RecordEventTime time = json("iso8601");
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":\"2026-11-23T10:00:01+01:00\"}"));
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":\"12345-01-01 00:00:00\"}"));
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":\"1969-12-31T23:59:59.999Z\"}"));
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":\"2038-01-19T03:14:08Z\"}"));
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":1700000000000}"));
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":\"2026-13-01T00:00:00Z\"}"));
    }

    @Test
    void jsonFieldRules() {
        RecordEventTime time = json("epoch_ms");
        assertEquals(2000, time.eventTimeMs("{\"t\":1,\"t\":2000}"));
        assertEquals(2000, time.eventTimeMs("{\"t\":2000} trailing"));
        assertEquals(7000, time.eventTimeMs("{\"a\":{\"t\":5},\"t\":7000}"));
        assertEquals(3000, time.eventTimeMs(" {\"t\":3000}"));
        assertEquals(4000, time.eventTimeMs("{\"\\u0074\":4000}"));
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":5000,\"t\":null}"));
        assertEquals(NOT_READABLE, time.eventTimeMs("{\"t\":5000,\"t\":{\"x\":1}}"));
    }

    @Test
    void malformedJsonIsNotReadable() {
        RecordEventTime time = json("epoch_ms");
        for (String payload :
                new String[] {
                    "{\"t\":2000,}",
                    "{\"t\":2000",
                    "{'t':1000}",
                    "{t:1000}",
                    "{\"t\":NaN}",
                    "{\"t\":0123}",
                    "[1,2]",
                    "not json",
                    "",
                    "{\"t\":\"1000\n\"}",
                    "{\"t\":null}",
                    "{\"t\":true}",
                    "{\"t\":[1]}",
                    "{\"t\":-5}",
                    "{\"t\":0}",
                    "{\"t\":\"NaN\"}",
                    "{\"t\":\"0x10\"}",
                    "{\"t\":\"1,000\"}",
                    "{\"a\":1}"
                }) {
            assertEquals(NOT_READABLE, time.eventTimeMs(payload), payload);
        }
        assertEquals(NOT_READABLE, time.eventTimeMs(null));
    }

    @Test
    void csvLines() {
        RecordEventTime time = csv("epoch_ms");
        assertEquals(1700000000000L, time.eventTimeMs("x,1700000000000,y"));
        assertEquals(1700000000000L, time.eventTimeMs("x, 1700000000000 ,y"));
        assertEquals(1700000000000L, time.eventTimeMs("x,1700000000000"));
        assertEquals(1700000000000L, time.eventTimeMs("\nx,1700000000000,y\n"));
        assertEquals(1700000000000L, time.eventTimeMs("x,1700000000000,y\r"));
        assertEquals(1700000000L, time.eventTimeMs("x,1700000000.123,y"));
        assertEquals(NOT_READABLE, time.eventTimeMs("x,,y"));
        assertEquals(NOT_READABLE, time.eventTimeMs("x"));
        assertEquals(NOT_READABLE, time.eventTimeMs("x,2026-11-23T10:00:01.250Z,y"));
        RecordEventTime only = RecordEventTime.of("csv", "t", "t", "epoch_ms");
        assertEquals(1700000000000L, only.eventTimeMs("1700000000000"));
    }

    @Test
    void csvLineInsideAJsonString() {
        RecordEventTime time = csv("epoch_ms");
        assertEquals(1700000000000L, time.eventTimeMs("\"x,1700000000000,y\""));
        assertEquals(1700000000000L, time.eventTimeMs("  \"x,1700000000000,y\\n\""));
        assertEquals(1700000000000L, time.eventTimeMs("\"x,17000\\u00300000000,y\""));
        assertEquals(1700000000000L, time.eventTimeMs("\"x,1700000000000,y\" junk"));
        assertEquals(5, time.eventTimeMs("\"x,5,y\","));
        // Only spaces are trimmed before the quote: with a tab or newline it is a plain line.
        assertEquals(1700000000000L, time.eventTimeMs("\t\"x,1700000000000,y\""));
        assertEquals(1700000000000L, time.eventTimeMs("\n\"x,1700000000000,y\""));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"x,1700000000000,y"));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"x,1700000000000,y\\q\""));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"x,1700000000000,y\n\""));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"a\\\",\\\"b\",1700000000000"));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"x,\\\"2026-11-23T10:00:01Z\\\",y\""));

        // Escapes: an escaped comma separates columns, and the wanted column is decoded.
        assertEquals(1700000000000L, time.eventTimeMs("\"x\\u002c1700000000000,y\""));
        assertEquals(1700000000000L, time.eventTimeMs("\"x,1700000000000\\u002cy\""));
        assertEquals(1700000000000L, time.eventTimeMs("\"x,\\u0031700000000000,y\""));
        assertEquals(1700000000000L, time.eventTimeMs("\"x,\\u00201700000000000\\u0020,y\""));
        assertEquals(1700000000000L, time.eventTimeMs("\"x\\\\,1700000000000,y\""));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"x,17000000000\\\"00,y\""));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"x,1700000000000,y\\u00\""));
        assertEquals(NOT_READABLE, time.eventTimeMs("\"x,1700000000000,y\\"));
    }

    @Test
    void csvEpochSecondsAndIso8601() {
        assertEquals(1700000000500L, csv("epoch_s").eventTimeMs("\"x,1700000000.5,y\""));
        assertEquals(1700000000000000L, csv("epoch_s").eventTimeMs("x,1700000000000,y"));
        RecordEventTime iso = csv("iso8601");
        assertEquals(T_250, iso.eventTimeMs("\"x,2026-11-23T10:00:01.250Z,y\""));
        assertEquals(T_250, iso.eventTimeMs("x,2026-11-23 10:00:01.250,y"));
        assertEquals(T_250 + 749, iso.eventTimeMs("x,2026-11-23T10:00:01.99999Z,y"));
        assertEquals(T_250 + 250, iso.eventTimeMs("\"x,2026-11-23T10:00:01\\u002e5Z,y\""));
        RecordEventTime last = RecordEventTime.of("csv", "a,b,c,d,t", "t", "iso8601");
        assertEquals(T_250 + 250, last.eventTimeMs("\"1,2,3,4, 2026-11-23T10:00:01.5Z \""));
        assertEquals(NOT_READABLE, last.eventTimeMs("1,2,3,4,"));
        assertEquals(NOT_READABLE, last.eventTimeMs("1,2,3,4"));
    }

    @Test
    void rejectsInvalidSettings() {
        assertInvalid("xml", "", "t", "epoch_ms");
        assertInvalid("json", "", "t", "epoch_us");
        assertInvalid("csv", "a,b", "t", "epoch_ms");
        assertInvalid("json", "", "", "epoch_ms");
    }

    private static void assertInvalid(String format, String columns, String field, String time) {
        assertThrows(
                IllegalArgumentException.class,
                () -> RecordEventTime.of(format, columns, field, time));
    }
}
