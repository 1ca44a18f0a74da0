package dev.streamscoring.connectors.metrics;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;

import java.util.HashMap;
import java.util.Map;

/**
 * Counts the job's dead-letter lines by their {@code stage} field, as {@code deadLetters<Stage>}
 * counters in the {@link ServiceMetrics#GROUP} group, and passes the lines on unchanged. It sits
 * on the one stream where every stage's dead letters meet, before their sink.
 *
 * <p>The known stages' counters exist from the start (at 0), so an alarm on them has data before
 * the first dead letter.
 */
public final class DeadLetterCounter extends RichMapFunction<String, String> {

    private static final long serialVersionUID = 1L;

    // Written by JSON_OBJECT in SQL and by json.dumps in Python, both without spaces. Inside a
    // JSON string value the quotes are escaped, so this text only appears as the field itself.
    private static final String STAGE_FIELD = "\"stage\":\"";

    private final String[] knownStages;

    private transient MetricGroup group;
    private transient Map<String, Counter> counters;

    public DeadLetterCounter(String... knownStages) {
        this.knownStages = knownStages.clone();
    }

    @Override
    public void open(OpenContext openContext) {
        group = ServiceMetrics.group(getRuntimeContext().getMetricGroup());
        counters = new HashMap<>();
        for (String stage : knownStages) {
            counterOf(stage);
        }
    }

    @Override
    public String map(String line) {
        counterOf(stageOf(line)).inc();
        return line;
    }

    /** The {@code stage} field of a dead-letter line; empty when it has none. */
    public static String stageOf(String line) {
        int start = line.indexOf(STAGE_FIELD);
        if (start < 0) {
            return "";
        }
        start += STAGE_FIELD.length();
        int end = line.indexOf('"', start);
        return end < 0 ? "" : line.substring(start, end);
    }

    private Counter counterOf(String stage) {
        return counters.computeIfAbsent(stage, s -> group.counter(ServiceMetrics.deadLetters(s)));
    }
}
