package dev.streamscoring.connectors.inference;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

/**
 * Emits each record of a scored batch again, with its prediction or its dead letter, at the
 * record's own event time (see {@link ScoredBatch}). Watermarks pass as they come: the scoring
 * function emits a batch before any watermark that followed it.
 */
public final class PredictionUnbatcher extends AbstractStreamOperator<Row>
        implements OneInputStreamOperator<Row, Row> {

    private static final long serialVersionUID = 1L;

    private final RecordLayout layout;
    private final Rollout rollout;

    private transient ScoredBatch batches;
    private transient StreamRecord<Row> reuse;

    public PredictionUnbatcher(RecordLayout layout) {
        this(layout, Rollout.NONE);
    }

    public PredictionUnbatcher(RecordLayout layout, Rollout rollout) {
        this.layout = layout;
        this.rollout = rollout;
    }

    @Override
    public void open() throws Exception {
        super.open();
        batches = new ScoredBatch(layout, rollout);
        reuse = new StreamRecord<>(null);
    }

    @Override
    public void processElement(StreamRecord<Row> element) throws Exception {
        batches.emit(element.getValue(), this::emit);
    }

    private void emit(Row row, long timestamp) {
        if (timestamp == RecordLayout.NO_TIMESTAMP) {
            reuse.eraseTimestamp();
            output.collect(reuse.replace(row));
        } else {
            output.collect(reuse.replace(row, timestamp));
        }
    }
}
