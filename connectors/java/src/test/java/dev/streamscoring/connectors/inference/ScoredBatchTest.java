package dev.streamscoring.connectors.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.types.Row;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

class ScoredBatchTest {

    private static byte[] records(Row... rows) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(256);
        long timestamp = 5000L;
        for (Row row : rows) {
            InferenceBatchesTest.LAYOUT.write(row, timestamp++, out);
        }
        return out.getCopyOfBuffer();
    }

    private static List<String> emitted(Row outcome) throws IOException {
        List<String> rows = new ArrayList<>();
        new ScoredBatch(InferenceBatchesTest.LAYOUT).emit(outcome, (row, timestamp) -> rows.add(timestamp + " " + row));
        return rows;
    }

    @Test
    void eachRecordGetsItsPredictionOrItsDeadLetter() throws IOException {
        Row poison = Row.of("{\"t\": \"\u00e9\"}", "2026-01-01T00:00:02.000Z", null, "b", -999.0, 1.0, null);
        Row outcome =
                Row.of(
                        records(InferenceBatchesTest.trip(0), poison, InferenceBatchesTest.trip(1)),
                        new double[] {7.5, Double.NaN, 8.5},
                        new int[] {-1, 0, -1},
                        new String[] {"rejected 400 ModelError: bad (status 400, 1 attempt)"});
        String deadLetter =
                "{\"payload\":\"{\\\"t\\\": \\\"\\u00e9\\\"}\",\"stage\":\"inference\","
                        + "\"reason\":\"rejected 400 ModelError: bad (status 400, 1 attempt)\","
                        + "\"arrival_time\":\"2026-01-01T00:00:02.000Z\"}";
        assertEquals(
                List.of(
                        "5000 +I[true, null, k0, 1.5, 9.25, 7.5]",
                        "5001 +I[false, " + deadLetter + ", b, -999.0, null, null]",
                        "5002 +I[true, null, k1, 2.5, 9.25, 8.5]"),
                emitted(outcome));
    }

    @Test
    void aWholeBatchFailedSharesOneReason() throws IOException {
        Row outcome =
                Row.of(
                        records(InferenceBatchesTest.trip(0), InferenceBatchesTest.trip(1)),
                        new double[] {Double.NaN, Double.NaN},
                        new int[] {0, 0},
                        new String[] {"inference stage timed out"});
        List<String> rows = emitted(outcome);
        assertEquals(2, rows.size());
        for (int i = 0; i < 2; i++) {
            assertEquals(
                    (5000 + i)
                            + " +I[false, {\"payload\":\"p"
                            + i
                            + "\",\"stage\":\"inference\",\"reason\":\"inference stage timed out\","
                            + "\"arrival_time\":\"2026-01-01T00:00:0"
                            + i
                            + ".000Z\"}, k"
                            + i
                            + ", "
                            + (1.5 + i)
                            + ", 9.25, null]",
                    rows.get(i));
        }
    }

    @Test
    void moreRecordsThanPredictionsIsAnError() throws IOException {
        Row outcome =
                Row.of(
                        records(InferenceBatchesTest.trip(0), InferenceBatchesTest.trip(1)),
                        new double[] {1.0},
                        new int[0],
                        new String[0]);
        assertThrows(IllegalStateException.class, () -> emitted(outcome));
    }
}
