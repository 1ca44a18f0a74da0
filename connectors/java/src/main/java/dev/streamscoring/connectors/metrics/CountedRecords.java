package dev.streamscoring.connectors.metrics;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.metrics.Counter;

/**
 * Passes records on unchanged and counts them in a {@link ServiceMetrics#GROUP} counter: what the
 * job's SQL stages cannot count themselves (e.g. window records on their way to the sinks).
 */
public final class CountedRecords<T> extends RichMapFunction<T, T> {

    private static final long serialVersionUID = 1L;

    private final String counterName;

    private transient Counter counter;

    public CountedRecords(String counterName) {
        this.counterName = counterName;
    }

    @Override
    public void open(OpenContext openContext) {
        counter = ServiceMetrics.group(getRuntimeContext().getMetricGroup()).counter(counterName);
    }

    @Override
    public T map(T record) {
        counter.inc();
        return record;
    }
}
