package dev.streamscoring.connectors.metrics;

import org.apache.flink.metrics.MetricGroup;

/**
 * The metric group and names the job publishes for Managed Service for Apache Flink, which sends
 * an operator's custom metrics to CloudWatch only from a group keyed {@value #GROUP}.
 */
public final class ServiceMetrics {

    public static final String GROUP = "KinesisAnalytics";

    public static final String RECORDS_PARSED = "recordsParsed";
    public static final String WINDOWS_EMITTED = "windowsEmitted";
    public static final String DEAD_LETTERS_PREFIX = "deadLetters";

    private ServiceMetrics() {}

    /** The {@value #GROUP} group below an operator's (or a function's) metric group. */
    public static MetricGroup group(MetricGroup operator) {
        return operator.addGroup(GROUP);
    }

    /** {@code deadLetters<Stage>} of a dead-letter stage name, e.g. {@code deadLettersParse}. */
    public static String deadLetters(String stage) {
        if (stage.isEmpty()) {
            return DEAD_LETTERS_PREFIX + "Unknown";
        }
        return DEAD_LETTERS_PREFIX + Character.toUpperCase(stage.charAt(0)) + stage.substring(1);
    }
}
