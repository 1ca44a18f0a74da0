package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.metrics.groups.SourceReaderMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.SimpleUserCodeClassLoader;
import org.apache.flink.util.UserCodeClassLoader;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.kinesis.model.Record;

import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.streamscoring.connectors.kinesis.FakeKinesisProxy.records;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class KinesisSourceReaderTest {

    private static final String S0 = "shardId-000000000000";
    private static final String S1 = "shardId-000000000001";

    private final List<SourceEvent> events = new CopyOnWriteArrayList<>();
    private final Set<String> vanished = ConcurrentHashMap.newKeySet();
    private final FakeKinesisProxy proxy = new FakeKinesisProxy();
    private final ShardHolds holds = new ShardHolds();

    /** Emits each record's sequence number and records it as the split's progress. */
    private final RecordEmitter<Record, String, KinesisShardSplitState> emitter =
            (record, output, state) -> {
                output.collect(record.sequenceNumber());
                state.setLastEmittedSequenceNumber(record.sequenceNumber());
            };

    private final KinesisSourceReader<String> reader =
            new KinesisSourceReader<>(
                    () ->
                            new PollingShardSplitReader(
                                    proxy,
                                    100,
                                    10L,
                                    new KinesisReaderMetrics(
                                            new RecordingMetricRegistry().rootGroup("reader"),
                                            FakeKinesisProxy.ARN),
                                    vanished,
                                    holds,
                                    60_000L),
                    emitter,
                    new Configuration(),
                    new EventRecordingContext(),
                    vanished,
                    holds);

    private final List<KinesisSourceReader<String>> holdingReaders = new ArrayList<>();

    @AfterEach
    void closeReader() throws Exception {
        reader.close();
        for (KinesisSourceReader<String> holding : holdingReaders) {
            holding.close();
        }
    }

    /** A reader whose split reader holds drained shards for at most {@code holdTimeoutMs}. */
    private KinesisSourceReader<String> holdingReader(long holdTimeoutMs) {
        ShardHolds readerHolds = new ShardHolds();
        KinesisSourceReader<String> holding =
                new KinesisSourceReader<>(
                        () ->
                                new PollingShardSplitReader(
                                        proxy,
                                        100,
                                        10L,
                                        new KinesisReaderMetrics(
                                                new RecordingMetricRegistry().rootGroup("reader"),
                                                FakeKinesisProxy.ARN),
                                        vanished,
                                        readerHolds,
                                        holdTimeoutMs),
                        emitter,
                        new Configuration(),
                        new EventRecordingContext(),
                        vanished,
                        readerHolds);
        holdingReaders.add(holding);
        holding.start();
        return holding;
    }

    /** Polls the reader until {@code event} was sent to the enumerator, or fails. */
    private void pollUntilSent(
            KinesisSourceReader<String> reader, CollectingOutput output, SourceEvent event)
            throws Exception {
        long deadline = System.currentTimeMillis() + 10_000L;
        while (!events.contains(event)) {
            if (System.currentTimeMillis() > deadline) {
                fail("Not sent: " + event + "; events " + events + ", emitted " + output.values);
            }
            reader.pollNext(output);
        }
    }

    private static ShardsDrainedEvent drained(String shardId, String... children) {
        return new ShardsDrainedEvent(Map.of(shardId, Set.of(children)));
    }

    private static ChildShardsAssignedEvent childAssigned(
            String parent, String child, int subtask) {
        return new ChildShardsAssignedEvent(Map.of(parent, Map.of(child, subtask)));
    }

    private static KinesisShardSplit closedAfter(String shardId, String sequenceNumber) {
        return new KinesisShardSplit(shardId, StartingPosition.afterSequenceNumber(sequenceNumber));
    }

    @Test
    void aDrainedParentStaysOpenUntilItsChildIsAssignedHereThenFinishes() throws Exception {
        KinesisSourceReader<String> holding = holdingReader(60_000L);
        proxy.scriptRecords(S0, records(S0, "1", "2"), FakeKinesisProxy.endOfShard(S0, S1));
        holding.addSplits(List.of(new KinesisShardSplit(S0, StartingPosition.trimHorizon())));
        CollectingOutput output = new CollectingOutput();

        pollUntilSent(holding, output, drained(S0, S1));

        // Reported once its last records are emitted; its output, and so its watermark, stays.
        assertEquals(List.of("1", "2"), output.values);
        assertEquals(List.of(drained(S0, S1)), events);
        assertEquals(List.of(), output.releasedSplits);
        assertEquals(List.of(closedAfter(S0, "2")), holding.snapshotState(1L));

        // The enumerator assigns the child here first, then answers.
        holding.addSplits(List.of(new KinesisShardSplit(S1, StartingPosition.trimHorizon())));
        holding.handleSourceEvents(childAssigned(S0, S1, 0));
        pollUntilSent(holding, output, new ShardsFinishedEvent(Set.of(S0), Set.of()));

        assertEquals(List.of(S0), output.releasedSplits);
        assertEquals(2, Collections.frequency(proxy.getRecordsShardIds(), S0));
        assertEquals(
                List.of(
                        new KinesisShardSplit(S1, StartingPosition.trimHorizon()),
                        closedAfter(S0, "2").withStatus(KinesisShardSplit.Status.FULLY_READ)),
                holding.snapshotState(2L));
    }

    @Test
    void aDrainedParentWhoseChildWentToAnotherReaderFinishesOnTheAnswer() throws Exception {
        KinesisSourceReader<String> holding = holdingReader(60_000L);
        proxy.scriptRecords(S0, records(S0, "1"), FakeKinesisProxy.endOfShard(S0, S1));
        holding.addSplits(List.of(new KinesisShardSplit(S0, StartingPosition.trimHorizon())));
        CollectingOutput output = new CollectingOutput();
        pollUntilSent(holding, output, drained(S0, S1));
        assertEquals(List.of(), output.releasedSplits);

        holding.handleSourceEvents(childAssigned(S0, S1, 1));
        pollUntilSent(holding, output, new ShardsFinishedEvent(Set.of(S0), Set.of()));

        assertEquals(List.of(S0), output.releasedSplits);
        assertEquals(List.of("1"), output.values);
    }

    @Test
    void aDrainedParentWithoutAnAnswerIsFinishedAfterTheHoldTimeout() throws Exception {
        KinesisSourceReader<String> holding = holdingReader(300L);
        proxy.scriptRecords(S0, records(S0, "1"), FakeKinesisProxy.endOfShard(S0, S1));
        holding.addSplits(List.of(new KinesisShardSplit(S0, StartingPosition.trimHorizon())));
        CollectingOutput output = new CollectingOutput();
        pollUntilSent(holding, output, drained(S0, S1));
        long drainedAt = System.currentTimeMillis();
        assertEquals(List.of(), output.releasedSplits);

        pollUntilSent(holding, output, new ShardsFinishedEvent(Set.of(S0), Set.of()));

        assertTrue(System.currentTimeMillis() - drainedAt >= 200L);
        assertEquals(List.of(S0), output.releasedSplits);
        // A late answer finds nothing left to release.
        holding.handleSourceEvents(childAssigned(S0, S1, 0));
        assertEquals(
                List.of(drained(S0, S1), new ShardsFinishedEvent(Set.of(S0), Set.of())), events);
    }

    @Test
    void aParentRestoredWhileHeldIsReadToItsEndAndReportedAgain() throws Exception {
        KinesisSourceReader<String> holding = holdingReader(60_000L);
        proxy.scriptRecords(S0, FakeKinesisProxy.endOfShard(S0, S1));
        holding.addSplits(List.of(closedAfter(S0, "2")));
        CollectingOutput output = new CollectingOutput();

        pollUntilSent(holding, output, drained(S0, S1));

        assertEquals(
                List.of(Map.entry(S0, StartingPosition.afterSequenceNumber("2"))),
                proxy.iteratorRequests);
        assertEquals(List.of(), output.values);
        assertEquals(List.of(), output.releasedSplits);
        holding.handleSourceEvents(childAssigned(S0, S1, 1));
        pollUntilSent(holding, output, new ShardsFinishedEvent(Set.of(S0), Set.of()));
        assertEquals(List.of(S0), output.releasedSplits);
    }

    private static KinesisShardSplitState stateAfter(String shardId, String sequenceNumber) {
        KinesisShardSplitState state =
                new KinesisShardSplitState(
                        new KinesisShardSplit(shardId, StartingPosition.trimHorizon()));
        state.setLastEmittedSequenceNumber(sequenceNumber);
        return state;
    }

    @Test
    void finishedShardsAreReportedAndKeptInCheckpointsUntilTwoMoreAreComplete() throws Exception {
        vanished.add(S0);
        Map<String, KinesisShardSplitState> finished = new LinkedHashMap<>();
        finished.put(S0, stateAfter(S0, "7"));
        finished.put(S1, stateAfter(S1, "9"));

        reader.onSplitFinished(finished);

        assertEquals(List.of(new ShardsFinishedEvent(Set.of(S1), Set.of(S0))), events);
        assertEquals(Set.of(), vanished);
        List<KinesisShardSplit> expected =
                List.of(
                        new KinesisShardSplit(S0, StartingPosition.afterSequenceNumber("7"))
                                .withStatus(KinesisShardSplit.Status.VANISHED),
                        new KinesisShardSplit(S1, StartingPosition.afterSequenceNumber("9"))
                                .withStatus(KinesisShardSplit.Status.FULLY_READ));
        assertEquals(expected, reader.snapshotState(1L));
        reader.notifyCheckpointComplete(1L);
        assertEquals(expected, reader.snapshotState(2L));
        reader.notifyCheckpointComplete(2L);
        assertEquals(List.of(), reader.snapshotState(3L));
    }

    @Test
    void restoredFinishedSplitsAreReportedAgainAndNotRead() throws Exception {
        KinesisShardSplit fullyRead =
                new KinesisShardSplit(S0, StartingPosition.afterSequenceNumber("7"))
                        .withStatus(KinesisShardSplit.Status.FULLY_READ);
        KinesisShardSplit gone =
                new KinesisShardSplit(S1, StartingPosition.trimHorizon())
                        .withStatus(KinesisShardSplit.Status.VANISHED);

        reader.addSplits(List.of(fullyRead, gone));

        assertEquals(List.of(new ShardsFinishedEvent(Set.of(S0), Set.of(S1))), events);
        assertEquals(0, reader.getNumberOfCurrentlyAssignedSplits());
        assertEquals(List.of(fullyRead, gone), reader.snapshotState(4L));
        assertEquals(List.of(), proxy.iteratorRequests);
    }

    @Test
    void aFinishedSplitIsDroppedWhenItsShardIdComesBackToBeRead() throws Exception {
        KinesisShardSplit gone =
                new KinesisShardSplit(S0, StartingPosition.afterSequenceNumber("7"))
                        .withStatus(KinesisShardSplit.Status.VANISHED);
        KinesisShardSplit recreated = new KinesisShardSplit(S0, StartingPosition.trimHorizon());

        reader.addSplits(List.of(gone, recreated));

        assertEquals(List.of(), events);
        assertEquals(List.of(recreated), reader.snapshotState(1L));
    }

    @Test
    void aShardThatVanishesWhileReadIsEmittedUpToThereAndReportedAsVanished() throws Exception {
        proxy.scriptRecords(S0, records(S0, "1", "2"), FakeKinesisProxy.notFound());
        proxy.scriptRecords(S1, records(S1, "5"), FakeKinesisProxy.endOfShard());
        reader.start();
        reader.addSplits(
                List.of(
                        new KinesisShardSplit(S0, StartingPosition.trimHorizon()),
                        new KinesisShardSplit(S1, StartingPosition.trimHorizon())));

        CollectingOutput output = new CollectingOutput();
        long deadline = System.currentTimeMillis() + 10_000L;
        while (events.size() < 2) {
            if (System.currentTimeMillis() > deadline) {
                fail("Shards not finished; events " + events + ", emitted " + output.values);
            }
            reader.pollNext(output);
        }

        List<String> sorted = new ArrayList<>(output.values);
        Collections.sort(sorted);
        assertEquals(List.of("1", "2", "5"), sorted);
        Set<SourceEvent> received = Set.copyOf(events);
        assertEquals(
                Set.of(
                        new ShardsFinishedEvent(Set.of(), Set.of(S0)),
                        new ShardsFinishedEvent(Set.of(S1), Set.of())),
                received);
        assertEquals(
                List.of(
                        new KinesisShardSplit(S0, StartingPosition.afterSequenceNumber("2"))
                                .withStatus(KinesisShardSplit.Status.VANISHED),
                        new KinesisShardSplit(S1, StartingPosition.afterSequenceNumber("5"))
                                .withStatus(KinesisShardSplit.Status.FULLY_READ)),
                sortedById(reader.snapshotState(1L)));
    }

    private static List<KinesisShardSplit> sortedById(List<KinesisShardSplit> splits) {
        List<KinesisShardSplit> sorted = new ArrayList<>(splits);
        sorted.sort((a, b) -> a.getShardId().compareTo(b.getShardId()));
        return sorted;
    }

    /** Reader context that records the events sent to the enumerator. */
    private final class EventRecordingContext implements SourceReaderContext {
        @Override
        public SourceReaderMetricGroup metricGroup() {
            return UnregisteredMetricsGroup.createSourceReaderMetricGroup();
        }

        @Override
        public Configuration getConfiguration() {
            return new Configuration();
        }

        @Override
        public String getLocalHostName() {
            return "localhost";
        }

        @Override
        public int getIndexOfSubtask() {
            return 0;
        }

        @Override
        public void sendSplitRequest() {}

        @Override
        public void sendSourceEventToCoordinator(SourceEvent sourceEvent) {
            events.add(sourceEvent);
        }

        @Override
        public UserCodeClassLoader getUserCodeClassLoader() {
            return SimpleUserCodeClassLoader.create(
                    new java.net.URLClassLoader(new URL[0], getClass().getClassLoader()));
        }
    }

    /** Collects emitted values, whichever split they come from. */
    private static final class CollectingOutput implements ReaderOutput<String> {
        final List<String> values = new CopyOnWriteArrayList<>();
        final List<String> releasedSplits = new CopyOnWriteArrayList<>();

        @Override
        public void collect(String record) {
            values.add(record);
        }

        @Override
        public void collect(String record, long timestamp) {
            values.add(record);
        }

        @Override
        public void emitWatermark(Watermark watermark) {}

        @Override
        public void markIdle() {}

        @Override
        public void markActive() {}

        @Override
        public SourceOutput<String> createOutputForSplit(String splitId) {
            return this;
        }

        @Override
        public void releaseOutputForSplit(String splitId) {
            releasedSplits.add(splitId);
        }
    }
}
