package dev.streamscoring.connectors.eventtime;

import dev.streamscoring.connectors.kinesis.PayloadRows;

import org.apache.flink.api.common.eventtime.TimestampAssigner;
import org.apache.flink.api.common.eventtime.TimestampAssignerSupplier;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.types.Row;

/**
 * Event time and watermarks of {@link PayloadRows} rows, for the source itself: Flink's source
 * operator then keeps one watermark generator per shard and emits the minimum over the active
 * shards, so a shard read ahead of another (a drained backlog) does not make the other's records
 * late.
 *
 * <p>Timestamps: the record's event time read by {@link RecordEventTime}, or its arrival time
 * ({@code arrival_ms}) when no event time field is configured; 0 for a row with a {@code source_error} or without a
 * readable event time, so that it never moves the watermark (the job's SQL dead-letters it).
 *
 * <p>Watermarks, per shard: the highest timestamp minus {@code outOfOrdernessMs} minus 1 (as
 * {@code WatermarkStrategy.forBoundedOutOfOrderness}); idle after {@code idlenessMs} without
 * records (0: never). Close-when-idle ({@code closeWhenIdleMs} > 0): once no shard of the subtask
 * has had a record for {@code closeWhenIdleMs}, every shard's generator emits {@code
 * subtaskMaxTimestamp - outOfOrdernessMs - 1 + quietMs}, where {@code quietMs} is the time since
 * the subtask's last record. The watermark then follows processing time, so the last windows of a
 * stream that stopped still close; the first record after the pause ends it.
 *
 * <p>Processing time is read when Flink asks the generators for a periodic watermark, every
 * {@code pipeline.auto-watermark-interval} (200 ms by default; 0 turns periodic watermarks, and
 * with them idleness and close-when-idle, off). It is the task's input activity clock, which
 * stands still while the task is back-pressured: a slow sink does not make the stream look quiet.
 *
 * <p>Why generators may share state: Flink (2.2, {@code SourceOperator} and {@code
 * ProgressiveTimestampsAndWatermarks}) deserializes the strategy with the operator in each
 * subtask, creates the timestamp assigner once and the generators (one for the reader's main
 * output, which sees no records here, then one per split) from that instance, and calls them only
 * from the task's mailbox thread: records from {@code pollNext}, periodic emits from a
 * processing-time timer that the task defers to its mailbox. So the state made by one instance is
 * the state of one subtask, used by one thread. The first generator created is the main output's,
 * made with the subtask's input activity clock, which therefore becomes the close-when-idle clock.
 */
public final class EventTimeWatermarks implements WatermarkStrategy<Row> {

    private static final long serialVersionUID = 1L;

    private final RecordEventTime eventTime;
    private final long outOfOrdernessMs;
    private final long idlenessMs;
    private final long closeWhenIdleMs;
    private final boolean perRecord;

    private transient SubtaskProgress subtask;

    private EventTimeWatermarks(
            RecordEventTime eventTime,
            long outOfOrdernessMs,
            long idlenessMs,
            long closeWhenIdleMs,
            boolean perRecord) {
        this.eventTime = eventTime;
        this.outOfOrdernessMs = outOfOrdernessMs;
        this.idlenessMs = idlenessMs;
        this.closeWhenIdleMs = closeWhenIdleMs;
        this.perRecord = perRecord;
    }

    /**
     * This strategy, emitting a shard's watermark also after every record that advances it, not
     * only periodically: each record then sees the watermark of the records before it, which makes
     * lateness deterministic (for tests over bounded input) at the cost of a watermark per record.
     */
    public EventTimeWatermarks perRecord() {
        return new EventTimeWatermarks(eventTime, outOfOrdernessMs, idlenessMs, closeWhenIdleMs, true);
    }

    /**
     * The strategy for {@link PayloadRows} rows.
     *
     * @param format {@code json} or {@code csv}
     * @param csvColumns the CSV columns, comma-separated ({@code ""} for JSON)
     * @param eventTimeField the event time field, or null to use the arrival time
     * @param eventTimeFormat {@code epoch_ms}, {@code epoch_s} or {@code iso8601}
     * @param outOfOrdernessMs how far behind the highest timestamp the watermark stays
     * @param idlenessMs after how long without records a shard stops holding the watermark back
     *     (0: never)
     * @param closeWhenIdleMs after how long without records on any shard of a subtask its
     *     watermark follows processing time (0: never)
     * @throws IllegalArgumentException for invalid settings
     */
    public static EventTimeWatermarks create(
            String format,
            String csvColumns,
            String eventTimeField,
            String eventTimeFormat,
            long outOfOrdernessMs,
            long idlenessMs,
            long closeWhenIdleMs) {
        if (outOfOrdernessMs < 0 || idlenessMs < 0 || closeWhenIdleMs < 0) {
            throw new IllegalArgumentException(
                    "out-of-orderness, idleness and close-when-idle must not be negative");
        }
        RecordEventTime eventTime =
                eventTimeField == null
                        ? null
                        : RecordEventTime.of(format, csvColumns, eventTimeField, eventTimeFormat);
        return new EventTimeWatermarks(
                eventTime, outOfOrdernessMs, idlenessMs, closeWhenIdleMs, false);
    }

    @Override
    public TimestampAssigner<Row> createTimestampAssigner(
            TimestampAssignerSupplier.Context context) {
        return new RowTimestamps(eventTime);
    }

    @Override
    public WatermarkGenerator<Row> createWatermarkGenerator(
            WatermarkGeneratorSupplier.Context context) {
        if (subtask == null) {
            subtask = new SubtaskProgress(context.getInputActivityClock());
        }
        return new SplitWatermarks<>(
                subtask,
                context.getInputActivityClock(),
                outOfOrdernessMs,
                idlenessMs,
                closeWhenIdleMs,
                perRecord);
    }

    /** Timestamps of rows as described on {@link EventTimeWatermarks}. */
    static final class RowTimestamps implements TimestampAssigner<Row> {
        private final RecordEventTime eventTime;

        RowTimestamps(RecordEventTime eventTime) {
            this.eventTime = eventTime;
        }

        @Override
        public long extractTimestamp(Row row, long recordTimestamp) {
            if (row.getField(PayloadRows.SOURCE_ERROR_INDEX) != null) {
                return 0;
            }
            if (eventTime == null) {
                Object arrival = row.getField(PayloadRows.ARRIVAL_MS_INDEX);
                return arrival == null ? 0 : (Long) arrival;
            }
            long millis = eventTime.eventTimeMs((String) row.getField(PayloadRows.PAYLOAD_INDEX));
            return millis == RecordEventTime.NOT_READABLE ? 0 : millis;
        }
    }
}
