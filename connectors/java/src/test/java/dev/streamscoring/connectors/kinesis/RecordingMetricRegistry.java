package dev.streamscoring.connectors.kinesis;

import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.metrics.NoOpMetricRegistry;
import org.apache.flink.runtime.metrics.groups.AbstractMetricGroup;
import org.apache.flink.runtime.metrics.groups.GenericMetricGroup;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Metric registry that keeps the metrics currently registered by their full dotted identifier, so
 * that tests see both the names and the removal of metrics of closed groups.
 */
class RecordingMetricRegistry extends NoOpMetricRegistry {

    final Map<String, Metric> metrics = new ConcurrentHashMap<>();

    /** A root group named {@code name} whose metrics land in this registry. */
    GenericMetricGroup rootGroup(String name) {
        return new GenericMetricGroup(this, null, name);
    }

    @Override
    public void register(Metric metric, String metricName, AbstractMetricGroup<?> group) {
        metrics.put(group.getMetricIdentifier(metricName), metric);
    }

    @Override
    public void unregister(Metric metric, String metricName, AbstractMetricGroup<?> group) {
        metrics.remove(group.getMetricIdentifier(metricName));
    }

    Metric get(String identifier) {
        return metrics.get(identifier);
    }
}
