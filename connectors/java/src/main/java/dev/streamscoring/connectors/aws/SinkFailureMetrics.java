package dev.streamscoring.connectors.aws;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;

/**
 * Counts the records a sink writer's requests failed to write, whether they are sent again or fail
 * the job: Flink's standard {@code numRecordsSendErrors} (shown as {@code numRecordsOutErrors}
 * too), plus {@value #RETRIED_RECORDS} for those queued to be sent
 * again. A record that fails three times counts three times in both.
 */
public final class SinkFailureMetrics {

    public static final String RETRIED_RECORDS = "retriedRecords";
    public static final String RECORDS_OUT_ERRORS = "numRecordsOutErrors";

    private final Counter failedRecords;
    private final Counter retriedRecords;

    public SinkFailureMetrics(SinkWriterMetricGroup metrics) {
        this.failedRecords = metrics.getNumRecordsOutErrorsCounter();
        this.retriedRecords = metrics.counter(RETRIED_RECORDS);
        // Flink 2.2 lists the counter under numRecordsSendErrors only; the official connectors'
        // users look for numRecordsOutErrors, so the same count is shown under that name too.
        Counter failed = failedRecords;
        metrics.gauge(RECORDS_OUT_ERRORS, (Gauge<Long>) failed::getCount);
    }

    public void failed(int records) {
        failedRecords.inc(records);
    }

    public void retrying(int records) {
        retriedRecords.inc(records);
    }
}
