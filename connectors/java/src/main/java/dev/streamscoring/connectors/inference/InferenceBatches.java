package dev.streamscoring.connectors.inference;

import org.apache.flink.types.Row;

import java.io.IOException;
import java.util.function.Consumer;

/**
 * When a batch leaves: full, {@code maxDelayMs} after its first record, and before anything that
 * must not overtake the records already taken in (a watermark, a checkpoint barrier, the end of
 * input). Holding a record past a watermark would make it late for its window; past a barrier, it
 * would be in no checkpoint. {@link InferenceBatcher} calls one method per operator event.
 */
final class InferenceBatches {

    /** Processing-time timers of the operator. */
    interface Timers {
        /** Runs {@code action} (on the operator's thread) after {@code delayMs}; returns its cancel. */
        Runnable schedule(long delayMs, Runnable action);
    }

    private final BatchCollector collector;
    private final long maxDelayMs;
    private final Timers timers;
    private final Consumer<Row> downstream;
    private Runnable cancelTimer;

    InferenceBatches(BatchCollector collector, long maxDelayMs, Timers timers, Consumer<Row> downstream) {
        this.collector = collector;
        this.maxDelayMs = maxDelayMs;
        this.timers = timers;
        this.downstream = downstream;
    }

    void record(Row row, long timestamp) throws IOException {
        if (collector.add(row, timestamp)) {
            flush();
        } else if (cancelTimer == null) {
            cancelTimer = timers.schedule(maxDelayMs, this::timerFired);
        }
    }

    void beforeWatermark() {
        flush();
    }

    void beforeCheckpoint() {
        flush();
    }

    void endOfInput() {
        flush();
    }

    void timerFired() {
        cancelTimer = null;
        flush();
    }

    private void flush() {
        if (cancelTimer != null) {
            cancelTimer.run();
            cancelTimer = null;
        }
        if (!collector.isEmpty()) {
            downstream.accept(collector.drain());
        }
    }
}
