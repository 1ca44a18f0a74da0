package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.connector.source.ReaderInfo;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.metrics.groups.SplitEnumeratorMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;

/**
 * Enumerator context run by the test itself: readers register when the test says so, the periodic
 * discovery runs once per {@link #runPeriodicCall()}, and assignments are collected per subtask.
 */
class FakeEnumeratorContext implements SplitEnumeratorContext<KinesisShardSplit> {

    private final int parallelism;
    private final Map<Integer, ReaderInfo> readers = new TreeMap<>();
    final Map<Integer, List<KinesisShardSplit>> assigned = new TreeMap<>();
    /** Events sent to readers, by subtask, in order. */
    final Map<Integer, List<SourceEvent>> sentEvents = new TreeMap<>();
    private Callable<?> periodicCall;
    private BiConsumer<Object, Throwable> periodicHandler;

    FakeEnumeratorContext(int parallelism) {
        this.parallelism = parallelism;
    }

    void registerReader(int subtaskId) {
        readers.put(subtaskId, new ReaderInfo(subtaskId, "localhost"));
    }

    void unregisterReader(int subtaskId) {
        readers.remove(subtaskId);
    }

    /** Runs the periodic call and hands its outcome to its handler, as the coordinator would. */
    void runPeriodicCall() {
        Object result = null;
        Throwable error = null;
        try {
            result = periodicCall.call();
        } catch (Throwable t) {
            error = t;
        }
        periodicHandler.accept(result, error);
    }

    /** Shard ids assigned to a subtask so far, in order. */
    List<String> shardIdsOf(int subtaskId) {
        List<String> ids = new ArrayList<>();
        for (KinesisShardSplit split : assigned.getOrDefault(subtaskId, Collections.emptyList())) {
            ids.add(split.getShardId());
        }
        return ids;
    }

    KinesisShardSplit assignedSplit(String shardId) {
        for (List<KinesisShardSplit> splits : assigned.values()) {
            for (KinesisShardSplit split : splits) {
                if (split.getShardId().equals(shardId)) {
                    return split;
                }
            }
        }
        return null;
    }

    @Override
    public SplitEnumeratorMetricGroup metricGroup() {
        return UnregisteredMetricsGroup.createSplitEnumeratorMetricGroup();
    }

    @Override
    public void sendEventToSourceReader(int subtaskId, SourceEvent event) {
        sentEvents.computeIfAbsent(subtaskId, k -> new ArrayList<>()).add(event);
    }

    @Override
    public int currentParallelism() {
        return parallelism;
    }

    @Override
    public Map<Integer, ReaderInfo> registeredReaders() {
        return Collections.unmodifiableMap(readers);
    }

    @Override
    public void assignSplits(SplitsAssignment<KinesisShardSplit> newSplitAssignments) {
        newSplitAssignments
                .assignment()
                .forEach(
                        (subtask, splits) ->
                                assigned.computeIfAbsent(subtask, k -> new ArrayList<>())
                                        .addAll(splits));
    }

    @Override
    public void signalNoMoreSplits(int subtask) {}

    @Override
    public <T> void callAsync(Callable<T> callable, BiConsumer<T, Throwable> handler) {
        throw new UnsupportedOperationException("The enumerator only makes periodic calls");
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> void callAsync(
            Callable<T> callable,
            BiConsumer<T, Throwable> handler,
            long initialDelayMillis,
            long periodMillis) {
        this.periodicCall = callable;
        this.periodicHandler = (BiConsumer<Object, Throwable>) handler;
    }

    @Override
    public void runInCoordinatorThread(Runnable runnable) {
        runnable.run();
    }
}
