package dev.streamscoring.connectors.eventtime;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.util.clock.RelativeClock;

/**
 * The watermark generator of one split (Kinesis shard): bounded out-of-orderness over the split's
 * own records, idle after {@code idlenessMs} without records, and, when the whole subtask has been
 * quiet for {@code closeWhenIdleMs}, the subtask's advancing close-when-idle watermark instead.
 */
final class SplitWatermarks<T> implements WatermarkGenerator<T> {

    private final SubtaskProgress subtask;
    private final RelativeClock clock;
    private final long outOfOrdernessMs;
    private final long idlenessMs;
    private final long closeWhenIdleMs;
    private final boolean perRecord;

    private long maxTimestamp = Long.MIN_VALUE;
    private long lastRecordMs;

    /**
     * @param clock this split's input activity clock (paused under back-pressure and while the
     *     split is paused for watermark alignment)
     */
    SplitWatermarks(
            SubtaskProgress subtask,
            RelativeClock clock,
            long outOfOrdernessMs,
            long idlenessMs,
            long closeWhenIdleMs,
            boolean perRecord) {
        this.subtask = subtask;
        this.clock = clock;
        this.outOfOrdernessMs = outOfOrdernessMs;
        this.idlenessMs = idlenessMs;
        this.closeWhenIdleMs = closeWhenIdleMs;
        this.perRecord = perRecord;
        this.lastRecordMs = clock.relativeTimeMillis();
    }

    @Override
    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {
        boolean advances = eventTimestamp > maxTimestamp;
        maxTimestamp = Math.max(maxTimestamp, eventTimestamp);
        lastRecordMs = clock.relativeTimeMillis();
        subtask.onRecord(eventTimestamp);
        if (perRecord && advances) {
            output.emitWatermark(new Watermark(boundedWatermark()));
        }
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long closing = subtask.closeWhenIdleWatermark(outOfOrdernessMs, closeWhenIdleMs);
        if (closing != SubtaskProgress.NO_WATERMARK) {
            // Every split emits it, idle or not, so that it is the minimum over the splits and
            // the subtask is not marked idle (an idle subtask's watermark is ignored downstream).
            output.emitWatermark(new Watermark(closing));
            return;
        }
        if (idlenessMs > 0 && clock.relativeTimeMillis() - lastRecordMs >= idlenessMs) {
            output.markIdle();
            return;
        }
        output.emitWatermark(new Watermark(boundedWatermark()));
    }

    private long boundedWatermark() {
        if (maxTimestamp == Long.MIN_VALUE) {
            return Long.MIN_VALUE;
        }
        return maxTimestamp - outOfOrdernessMs - 1;
    }
}
