package dev.streamscoring.connectors.kinesis;

import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.kinesis.model.InvalidArgumentException;
import software.amazon.awssdk.services.kinesis.model.Record;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static dev.streamscoring.connectors.kinesis.FakeKinesisProxy.records;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class PollingShardSplitReaderTest {

    private static final String S0 = "shardId-000000000000";
    private static final String S1 = "shardId-000000000001";
    private static final String SHARD_GROUP =
            "reader.KinesisStreamSource.accountId.000000000000.region.us-east-1.stream.in.shardId.";

    private final FakeKinesisProxy proxy = new FakeKinesisProxy();
    private final RecordingMetricRegistry registry = new RecordingMetricRegistry();
    private final Set<String> vanished = ConcurrentHashMap.newKeySet();
    private final PollingShardSplitReader reader =
            new PollingShardSplitReader(
                    proxy,
                    100,
                    50L,
                    new KinesisReaderMetrics(registry.rootGroup("reader"), FakeKinesisProxy.ARN),
                    vanished,
                    new ShardHolds(),
                    60_000L,
                    1L,
                    4L);

    /** What one fetch returned: sequence numbers per shard and the finished shards. */
    private static final class Fetched {
        final List<String> sequenceNumbers = new ArrayList<>();
        final Set<String> finished = new LinkedHashSet<>();
    }

    private Fetched fetch() throws IOException {
        RecordsWithSplitIds<Record> batch = reader.fetch();
        Fetched fetched = new Fetched();
        while (batch.nextSplit() != null) {
            Record record;
            while ((record = batch.nextRecordFromSplit()) != null) {
                fetched.sequenceNumbers.add(record.sequenceNumber());
            }
        }
        fetched.finished.addAll(batch.finishedSplits());
        return fetched;
    }

    private void add(String... shardIds) {
        List<KinesisShardSplit> splits = new ArrayList<>();
        for (String shardId : shardIds) {
            splits.add(new KinesisShardSplit(shardId, StartingPosition.trimHorizon()));
        }
        reader.handleSplitsChanges(new SplitsAddition<>(splits));
    }

    private long count(String counter) {
        return ((Counter) registry.get("reader." + counter)).getCount();
    }

    @Test
    void aShardNotFoundOnGetShardIteratorFinishesAsVanished() throws Exception {
        proxy.scriptIterator(S0, FakeKinesisProxy.notFound());
        add(S0);
        assertTrue(registry.metrics.containsKey(SHARD_GROUP + S0 + ".millisBehindLatest"));

        Fetched fetched = fetch();

        assertEquals(Set.of(S0), fetched.finished);
        assertEquals(Set.of(S0), vanished);
        assertEquals(1L, count("shardsNotFound"));
        assertFalse(registry.metrics.containsKey(SHARD_GROUP + S0 + ".millisBehindLatest"));
        assertEquals(Set.of(), fetch().finished);
    }

    @Test
    void aShardNotFoundOnGetRecordsFinishesAsVanishedAfterItsRecords() throws Exception {
        proxy.scriptRecords(S0, records(S0, "1", "2"), FakeKinesisProxy.notFound());
        add(S0);

        Fetched first = fetch();
        Fetched second = fetch();

        assertEquals(List.of("1", "2"), first.sequenceNumbers);
        assertEquals(Set.of(), first.finished);
        assertEquals(Set.of(S0), second.finished);
        assertEquals(Set.of(S0), vanished);
    }

    @Test
    void aClosedShardFinishesFullyReadAndItsLagGaugeIsRemoved() throws Exception {
        proxy.scriptRecords(S0, records(S0, "1"), FakeKinesisProxy.endOfShard());
        add(S0);
        String gauge = SHARD_GROUP + S0 + ".millisBehindLatest";
        assertEquals(-1L, ((Gauge<?>) registry.get(gauge)).getValue());

        assertEquals(List.of("1"), fetch().sequenceNumbers);
        assertEquals(5_000L, ((Gauge<?>) registry.get(gauge)).getValue());
        assertEquals(Set.of(S0), fetch().finished);

        assertEquals(Set.of(), vanished);
        assertFalse(registry.metrics.containsKey(gauge));
    }

    @Test
    void anExpiredIteratorIsReplacedByOneAfterTheLastRecordRead() throws Exception {
        proxy.scriptRecords(
                S0, records(S0, "1", "2"), FakeKinesisProxy.expired(), records(S0, "3"));
        add(S0);

        assertEquals(List.of("1", "2"), fetch().sequenceNumbers);
        assertEquals(List.of(), fetch().sequenceNumbers);
        assertEquals(List.of("3"), fetch().sequenceNumbers);

        assertEquals(
                List.of(
                        Map.entry(S0, StartingPosition.trimHorizon()),
                        Map.entry(S0, StartingPosition.afterSequenceNumber("2"))),
                proxy.iteratorRequests);
        assertEquals(1L, count("expiredIterators"));
    }

    @Test
    void throttlingIsRetriedBeyondTheFailureLimitAndCounted() throws Exception {
        Object[] iteratorThrottles = new Object[12];
        for (int i = 0; i < iteratorThrottles.length; i++) {
            iteratorThrottles[i] =
                    i % 2 == 0 ? FakeKinesisProxy.throttled() : FakeKinesisProxy.limitExceeded();
        }
        proxy.scriptIterator(S0, iteratorThrottles);
        proxy.scriptRecords(
                S0, FakeKinesisProxy.throttled(), FakeKinesisProxy.throttled(), records(S0, "1"));
        add(S0);

        List<String> read = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 10_000L;
        while (read.isEmpty()) {
            if (System.currentTimeMillis() > deadline) {
                fail("No record read after throttling");
            }
            read.addAll(fetch().sequenceNumbers);
        }

        assertEquals(List.of("1"), read);
        assertEquals(12L, count("getShardIteratorThrottled"));
        assertEquals(2L, count("getRecordsThrottled"));
        assertEquals(0L, count("getRecordsRetries"));
    }

    @Test
    void otherTransientErrorsFailTheReaderAfterTenInARow() throws Exception {
        Object[] failures = new Object[11];
        Arrays.fill(failures, FakeKinesisProxy.serverError());
        proxy.scriptIterator(S0, failures);
        add(S0);

        for (int i = 0; i < 10; i++) {
            fetch();
        }
        IOException e = assertThrows(IOException.class, this::fetch);
        assertTrue(e.getMessage().startsWith("Reading shard " + S0), e.getMessage());
        assertEquals(10L, count("getRecordsRetries"));
    }

    @Test
    void aNonRetryableErrorFailsTheReaderAtOnce() {
        proxy.scriptIterator(
                S0, InvalidArgumentException.builder().statusCode(400).message("bad").build());
        add(S0);
        assertThrows(IOException.class, this::fetch);
        assertEquals(0L, count("getRecordsRetries"));
    }

    @Test
    void getRecordsOnAShardIsAtMostFiveTimesASecond() throws Exception {
        proxy.scriptRecords(
                S0,
                records(S0, "1"),
                records(S0, "2"),
                records(S0, "3"),
                records(S0, "4"),
                records(S0, "5"));
        add(S0);

        for (int i = 1; i <= 5; i++) {
            assertEquals(List.of(String.valueOf(i)), fetch().sequenceNumbers);
        }

        List<Map.Entry<String, Long>> calls = proxy.getRecordsCalls;
        assertEquals(5, calls.size());
        for (int i = 1; i < calls.size(); i++) {
            long gap = calls.get(i).getValue() - calls.get(i - 1).getValue();
            // 200 ms apart, less 1 ms for a clock tick between the reader's and the fake's time.
            assertTrue(gap >= 199L, "gap " + gap);
        }
    }

    @Test
    void aFullPageIsFollowedAtOnceEvenWhenItClaimsToBeCaughtUp() throws Exception {
        // kinesalite answers MillisBehindLatest 0 on every page, also when more records wait.
        PollingShardSplitReader pagesOfTwo =
                new PollingShardSplitReader(
                        proxy,
                        2,
                        10_000L,
                        new KinesisReaderMetrics(
                                registry.rootGroup("pages"), FakeKinesisProxy.ARN),
                        vanished,
                        new ShardHolds(),
                        60_000L,
                        1L,
                        4L);
        proxy.scriptRecords(
                S0,
                records(S0, "1", "2").toBuilder().millisBehindLatest(0L).build(),
                records(S0, "3").toBuilder().millisBehindLatest(0L).build());
        pagesOfTwo.handleSplitsChanges(
                new SplitsAddition<>(
                        List.of(new KinesisShardSplit(S0, StartingPosition.trimHorizon()))));

        pagesOfTwo.fetch();
        pagesOfTwo.fetch();

        List<Map.Entry<String, Long>> calls = proxy.getRecordsCalls;
        assertEquals(2, calls.size());
        long gap = calls.get(1).getValue() - calls.get(0).getValue();
        // The read-rate spacing (200 ms), not the 10 s wait of a caught-up shard.
        assertTrue(gap < 5_000L, "gap " + gap);
    }

    @Test
    void pausedShardsAreNotPolledUntilResumed() throws Exception {
        add(S0, S1);
        KinesisShardSplit s0 = new KinesisShardSplit(S0, StartingPosition.trimHorizon());
        reader.pauseOrResumeSplits(List.of(s0), List.of());

        for (int i = 0; i < 4; i++) {
            fetch();
        }
        assertEquals(List.of(S1, S1, S1, S1), proxy.getRecordsShardIds());

        reader.pauseOrResumeSplits(List.of(), List.of(s0));
        long deadline = System.currentTimeMillis() + 5_000L;
        while (!proxy.getRecordsShardIds().contains(S0)) {
            if (System.currentTimeMillis() > deadline) {
                fail("Resumed shard not polled");
            }
            fetch();
        }
    }

    @Test
    void aFetchWithEveryShardPausedReturnsOnWakeUp() throws Exception {
        add(S0);
        reader.pauseOrResumeSplits(
                List.of(new KinesisShardSplit(S0, StartingPosition.trimHorizon())), List.of());
        reader.wakeUp();
        Fetched fetched = fetch();
        assertEquals(List.of(), fetched.sequenceNumbers);
        assertEquals(List.of(), proxy.getRecordsShardIds());
    }
}
