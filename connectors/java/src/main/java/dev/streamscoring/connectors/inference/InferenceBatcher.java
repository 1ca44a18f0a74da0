package dev.streamscoring.connectors.inference;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

import java.util.concurrent.ScheduledFuture;

/**
 * Collects parsed records into request batches for the Python scoring function, which then pays
 * its per-element cost once per batch instead of once per record. Keeps no state: every batch
 * leaves before the next checkpoint barrier (see {@link InferenceBatches}).
 */
public final class InferenceBatcher extends AbstractStreamOperator<Row>
        implements OneInputStreamOperator<Row, Row>, BoundedOneInput {

    private static final long serialVersionUID = 1L;

    private final RecordLayout layout;
    private final RequestBody body;
    private final int batchSize;
    private final long maxDelayMs;

    private transient InferenceBatches batches;
    private transient StreamRecord<Row> reuse;

    public InferenceBatcher(RecordLayout layout, RequestBody body, int batchSize, long maxDelayMs) {
        this.layout = layout;
        this.body = body;
        this.batchSize = batchSize;
        this.maxDelayMs = maxDelayMs;
    }

    @Override
    public void open() throws Exception {
        super.open();
        reuse = new StreamRecord<>(null);
        BatchCollector collector = new BatchCollector(layout, body, batchSize);
        batches = new InferenceBatches(collector, maxDelayMs, this::schedule, this::emit);
    }

    private Runnable schedule(long delayMs, Runnable action) {
        long at = getProcessingTimeService().getCurrentProcessingTime() + delayMs;
        ScheduledFuture<?> timer = getProcessingTimeService().registerTimer(at, time -> action.run());
        return () -> timer.cancel(false);
    }

    private void emit(Row batch) {
        output.collect(reuse.replace(batch));
    }

    @Override
    public void processElement(StreamRecord<Row> element) throws Exception {
        long timestamp = element.hasTimestamp() ? element.getTimestamp() : RecordLayout.NO_TIMESTAMP;
        batches.record(element.getValue(), timestamp);
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        batches.beforeWatermark();
        super.processWatermark(mark);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        batches.beforeCheckpoint();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void endInput() {
        batches.endOfInput();
    }
}
