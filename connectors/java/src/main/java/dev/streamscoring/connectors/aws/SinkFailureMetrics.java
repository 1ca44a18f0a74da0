package dev.streamscoring.connectors.aws;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;

/**
 * Counts the records a sink writer's requests failed to write, whether they are sent again or fail
 * the job: Flink's standard {@code numRecordsOutErrors} (the runtime reports the same counter as
 * {@code numRecordsSendErrors}), plus {@value #RETRIED_RECORDS} for those queued to be sent
 * again. A record that fails three times counts three times in both.
 */
public final class SinkFailureMetrics {

    public static final String RETRIED_RECORDS = "retriedRecords";

    private final Counter failedRecords;
    private final Counter retriedRecords;

    public SinkFailureMetrics(SinkWriterMetricGroup metrics) {
        this.failedRecords = metrics.getNumRecordsOutErrorsCounter();
        this.retriedRecords = metrics.counter(RETRIED_RECORDS);
    }

    public void failed(int records) {
        failedRecords.inc(records);
    }

    public void retrying(int records) {
        retriedRecords.inc(records);
    }
}
