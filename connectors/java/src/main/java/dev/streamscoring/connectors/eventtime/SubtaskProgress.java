package dev.streamscoring.connectors.eventtime;

import org.apache.flink.util.clock.RelativeClock;

/**
 * What the watermark generators of one source subtask know together: the highest record timestamp
 * on any of its splits and when its last record arrived. It lets every split's generator advance
 * the watermark once the whole subtask has gone quiet.
 *
 * <p>Not synchronized: all generators of a subtask are called from the task's mailbox thread.
 */
final class SubtaskProgress {

    static final long NO_WATERMARK = Long.MIN_VALUE;

    private final RelativeClock clock;
    private long maxTimestamp = Long.MIN_VALUE;
    private long lastRecordMs;
    private boolean anyRecord;

    /**
     * @param clock the subtask's input activity clock: it stands still while the task is
     *     back-pressured, so a slow pipeline is not mistaken for a quiet stream
     */
    SubtaskProgress(RelativeClock clock) {
        this.clock = clock;
    }

    void onRecord(long timestamp) {
        maxTimestamp = Math.max(maxTimestamp, timestamp);
        lastRecordMs = clock.relativeTimeMillis();
        anyRecord = true;
    }

    /**
     * The watermark that closes the windows of a quiet subtask: once no split has had a record
     * for {@code closeWhenIdleMs}, the bounded-out-of-orderness watermark of the subtask's highest
     * timestamp plus the time since its last record; else {@link #NO_WATERMARK}.
     */
    long closeWhenIdleWatermark(long outOfOrdernessMs, long closeWhenIdleMs) {
        if (closeWhenIdleMs <= 0 || !anyRecord) {
            return NO_WATERMARK;
        }
        long quietMs = clock.relativeTimeMillis() - lastRecordMs;
        if (quietMs < closeWhenIdleMs) {
            return NO_WATERMARK;
        }
        return maxTimestamp - outOfOrdernessMs - 1 + quietMs;
    }
}
