package dev.streamscoring.connectors.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.flink.types.Row;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The batcher's events in the order {@link InferenceBatcher} receives them: each test records
 * what leaves downstream, batches and the watermark or barrier that follows them.
 */
class InferenceBatchesTest {

    static final RecordLayout LAYOUT =
            new RecordLayout(0, 1, new int[] {3}, new int[] {4, 6}, new int[] {4, 5});

    /** A parsed record: payload, arrival, rowtime, key k, trip_distance, duration_seconds, fare. */
    static Row trip(int i) {
        return Row.of("p" + i, "2026-01-01T00:00:0" + i + ".000Z", null, "k" + i, 1.5 + i, 300.0, 9.25);
    }

    private final List<String> downstream = new ArrayList<>();
    private final List<Row> batches = new ArrayList<>();
    private final List<Runnable> timers = new ArrayList<>();
    private final List<Long> delays = new ArrayList<>();
    private int cancelled;

    private InferenceBatches batcher(int size) {
        BatchCollector collector = new BatchCollector(LAYOUT, new RequestBody(RequestBody.CSV, "instances"), size);
        return new InferenceBatches(
                collector,
                20,
                (delayMs, action) -> {
                    delays.add(delayMs);
                    timers.add(action);
                    return () -> cancelled++;
                },
                batch -> {
                    batches.add(batch);
                    downstream.add("batch of " + batch.getField(1));
                });
    }

    private static String body(Row batch) {
        return new String((byte[]) batch.getField(0), StandardCharsets.UTF_8);
    }

    @Test
    void aFullBatchLeavesAtOnceWithItsBodyCountAndRecords() throws IOException {
        InferenceBatches batches = batcher(2);
        batches.record(trip(0), 1000L);
        batches.record(trip(1), 1001L);
        batches.record(trip(2), 1002L);
        assertEquals(List.of("batch of 2"), downstream);
        Row batch = this.batches.get(0);
        assertEquals("1.5,300.0\n2.5,300.0", body(batch));
        assertEquals(2, batch.getField(1));
        assertEquals(List.of(20L, 20L), delays); // one timer per batch, from its first record
        assertEquals(1, cancelled); // the full batch's timer
    }

    @Test
    void aWatermarkLeavesAfterTheRecordsBeforeIt() throws IOException {
        InferenceBatches batches = batcher(10);
        batches.record(trip(0), 1000L);
        batches.record(trip(1), 1001L);
        batches.beforeWatermark();
        downstream.add("watermark");
        batches.beforeWatermark();
        downstream.add("watermark");
        assertEquals(List.of("batch of 2", "watermark", "watermark"), downstream);
    }

    @Test
    void aCheckpointBarrierLeavesAfterTheRecordsBeforeIt() throws IOException {
        InferenceBatches batches = batcher(10);
        batches.record(trip(0), 1000L);
        batches.beforeCheckpoint();
        downstream.add("barrier");
        assertEquals(List.of("batch of 1", "barrier"), downstream);
        assertEquals(1, cancelled);
    }

    @Test
    void thePartialBatchLeavesWhenItsTimerFires() throws IOException {
        InferenceBatches batches = batcher(10);
        batches.record(trip(0), 1000L);
        batches.record(trip(1), 1001L);
        batches.record(trip(2), 1002L);
        assertEquals(List.of(), downstream);
        assertEquals(1, timers.size());
        timers.get(0).run();
        assertEquals(List.of("batch of 3"), downstream);
        batches.record(trip(3), 1003L);
        assertEquals(2, timers.size()); // the next batch's own timer
        assertEquals(0, cancelled);
    }

    @Test
    void theLastBatchLeavesAtTheEndOfInput() throws IOException {
        InferenceBatches batches = batcher(10);
        batches.endOfInput();
        assertEquals(List.of(), downstream); // nothing to send, no empty batch
        batches.record(trip(0), 1000L);
        batches.endOfInput();
        assertEquals(List.of("batch of 1"), downstream);
    }

    @Test
    void theRecordsComeBackWithTheirTimestampsKeysAndValues() throws IOException {
        InferenceBatches batches = batcher(2);
        Row reused = trip(0);
        batches.record(reused, 1000L);
        reused.setField(3, "changed after it was taken in"); // the job reuses record objects
        batches.record(trip(1), 1001L);
        Row outcome = Row.of(this.batches.get(0).getField(2), new double[] {7.5, 8.5}, new int[0], new String[0]);
        List<String> emitted = new ArrayList<>();
        new ScoredBatch(LAYOUT).emit(outcome, (row, timestamp) -> emitted.add(timestamp + " " + row));
        assertEquals(List.of("1000 +I[true, null, k0, 1.5, 9.25, 7.5]", "1001 +I[true, null, k1, 2.5, 9.25, 8.5]"), emitted);
    }
}
