package dev.streamscoring.connectors.metrics;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

import java.util.HashMap;
import java.util.Map;

/**
 * A SQL function, {@code COUNTED(condition, 'counterName')}: returns the condition and counts the
 * rows for which it is true in a {@link ServiceMetrics#GROUP} counter. SQL has no metrics of its
 * own; used in a {@code WHERE} clause it counts the rows the query lets through (the parsed
 * records), in the operator that filters them.
 *
 * <p>Not deterministic, so that the planner neither folds it away nor copies it into several
 * places (each copy would count the row again).
 */
public final class CountingCondition extends ScalarFunction {

    private static final long serialVersionUID = 1L;

    private transient MetricGroup group;
    private transient Map<String, Counter> counters;

    @Override
    public void open(FunctionContext context) {
        group = ServiceMetrics.group(context.getMetricGroup());
        counters = new HashMap<>();
    }

    public Boolean eval(Boolean condition, String counterName) {
        if (Boolean.TRUE.equals(condition)) {
            counters.computeIfAbsent(counterName, group::counter).inc();
        }
        return condition;
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }
}
