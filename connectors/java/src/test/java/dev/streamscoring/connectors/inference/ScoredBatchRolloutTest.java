package dev.streamscoring.connectors.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

class ScoredBatchRolloutTest {

    /** payload, arrival, key k, value fare, feature distance. */
    private static final RecordLayout LAYOUT =
            new RecordLayout(0, 1, new int[] {2}, new int[] {3}, new int[] {4});

    private static byte[] records(int count) throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(256);
        for (int i = 0; i < count; i++) {
            LAYOUT.write(Row.of("p" + i, "2026-01-01T00:00:00.000Z", "a", 10.0 + i, 1.0), 1000L + i, out);
        }
        return out.getCopyOfBuffer();
    }

    private static List<Row> emit(Rollout rollout, Row outcome) throws Exception {
        List<Row> rows = new ArrayList<>();
        new ScoredBatch(LAYOUT, rollout).emit(outcome, (row, timestamp) -> rows.add(row));
        return rows;
    }

    @Test
    void eachScoredRecordCarriesItsVariantAndTheShadowsPrediction() throws Exception {
        Row outcome = Row.of(
                records(3),
                new double[] {1.5, Double.NaN, 3.5},
                new int[] {-1, 0, -1},
                new String[] {"rejected"},
                new String[] {"current", "", "candidate"},
                new double[] {1.25, Double.NaN, Double.NaN});
        List<Row> rows = emit(new Rollout(true, true), outcome);
        assertEquals(Row.of(true, null, "a", 10.0, 1.5, "current", 1.25), rows.get(0));
        assertEquals(false, rows.get(1).getField(0));
        assertEquals(null, rows.get(1).getField(5));
        assertEquals(Row.of(true, null, "a", 12.0, 3.5, "candidate", null), rows.get(2));
    }

    @Test
    void noVariantsAndNoShadowAnswersGiveNulls() throws Exception {
        Row outcome = Row.of(records(2), new double[] {1.5, 2.5}, new int[0], new String[0], new String[0], new double[0]);
        List<Row> rows = emit(new Rollout(true, true), outcome);
        assertEquals(Row.of(true, null, "a", 10.0, 1.5, null, null), rows.get(0));
        assertEquals(Row.of(true, null, "a", 11.0, 2.5, null, null), rows.get(1));
    }

    @Test
    void withoutARolloutTheRowsEndWithThePrediction() throws Exception {
        Row outcome = Row.of(records(1), new double[] {1.5}, new int[0], new String[0], new String[0], new double[0]);
        assertEquals(List.of(Row.of(true, null, "a", 10.0, 1.5)), emit(Rollout.NONE, outcome));
        Row shadowOnly = Row.of(records(1), new double[] {1.5}, new int[0], new String[0], new String[0], new double[] {2.0});
        assertEquals(List.of(Row.of(true, null, "a", 10.0, 1.5, 2.0)), emit(new Rollout(false, true), shadowOnly));
    }
}
