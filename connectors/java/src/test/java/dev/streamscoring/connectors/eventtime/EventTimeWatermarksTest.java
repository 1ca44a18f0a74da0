package dev.streamscoring.connectors.eventtime;

import org.apache.flink.api.common.eventtime.TimestampAssigner;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.types.Row;
import org.apache.flink.util.InstantiationUtil;
import org.apache.flink.util.clock.ManualClock;
import org.apache.flink.util.clock.RelativeClock;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EventTimeWatermarksTest {

    private static final String IDLE = "idle";
    private static final String NOTHING = "nothing";

    private final ManualClock clock = new ManualClock(1_000_000_000L);

    @Test
    void timestampsComeFromThePayloadOrTheArrivalTime() {
        TimestampAssigner<Row> csv =
                EventTimeWatermarks.create("csv", "k,t", "t", "epoch_s", 0, 0, 0)
                        .createTimestampAssigner(() -> null);
        assertEquals(1_700_000_000_000L, csv.extractTimestamp(row("\"a,1700000000\"", null), 5));
        assertEquals(0, csv.extractTimestamp(row("a,x", null), 5));
        assertEquals(0, csv.extractTimestamp(row("YWJj", "corrupt KPL aggregate: x"), 5));

        TimestampAssigner<Row> arrival =
                EventTimeWatermarks.create("json", "", null, "epoch_ms", 0, 0, 0)
                        .createTimestampAssigner(() -> null);
        assertEquals(5, arrival.extractTimestamp(row("{}", null), 5));
        assertEquals(0, arrival.extractTimestamp(row("YWJj", "corrupt KPL aggregate: x"), 5));
        // The arrival time is the row's own, whatever timestamp the stream carried before.
        assertEquals(5, arrival.extractTimestamp(row("{}", null), TimestampAssigner.NO_TIMESTAMP));
        assertEquals(0, arrival.extractTimestamp(Row.of("{}", null, null), 5));
    }

    @Test
    void perRecordWatermarksFollowEveryRecordThatAdvancesThem() {
        WatermarkGenerator<Row> shard =
                generator(EventTimeWatermarks.create("json", "", "t", "epoch_ms", 200, 0, 0).perRecord());
        LastOutput output = new LastOutput();
        shard.onEvent(null, 1000, output);
        assertEquals(799L, output.last);
        output.last = NOTHING;
        shard.onEvent(null, 900, output);
        assertEquals(NOTHING, output.last);
        shard.onEvent(null, 3000, output);
        assertEquals(2799L, output.last);

        LastOutput periodicOnly = new LastOutput();
        generator(strategy(200, 0, 0)).onEvent(null, 1000, periodicOnly);
        assertEquals(NOTHING, periodicOnly.last);
    }

    @Test
    void boundedOutOfOrdernessPerSplit() {
        WatermarkStrategy<Row> strategy = strategy(200, 0, 0);
        WatermarkGenerator<Row> main = generator(strategy);
        WatermarkGenerator<Row> shardA = generator(strategy);
        WatermarkGenerator<Row> shardB = generator(strategy);

        assertEquals(Long.MIN_VALUE, emitted(shardA));
        shardA.onEvent(null, 1000, new LastOutput());
        shardA.onEvent(null, 5000, new LastOutput());
        shardA.onEvent(null, 3000, new LastOutput());
        shardB.onEvent(null, 1000, new LastOutput());
        shardB.onEvent(null, 0, new LastOutput());

        assertEquals(4799L, emitted(shardA));
        assertEquals(799L, emitted(shardB));
        assertEquals(Long.MIN_VALUE, emitted(main));
    }

    @Test
    void splitWithoutRecordsForTheIdlenessGoesIdleUntilItsNextRecord() {
        WatermarkStrategy<Row> strategy = strategy(200, 1000, 0);
        WatermarkGenerator<Row> shard = generator(strategy);
        shard.onEvent(null, 5000, new LastOutput());

        advance(999);
        assertEquals(4799L, emitted(shard));
        advance(1);
        assertEquals(IDLE, emittedEvent(shard));

        shard.onEvent(null, 6000, new LastOutput());
        assertEquals(5799L, emitted(shard));
    }

    @Test
    void quietSubtaskAdvancesEverySplitWithProcessingTime() {
        WatermarkStrategy<Row> strategy = strategy(200, 1000, 5000);
        WatermarkGenerator<Row> main = generator(strategy);
        WatermarkGenerator<Row> shardA = generator(strategy);
        WatermarkGenerator<Row> shardB = generator(strategy);
        shardA.onEvent(null, 10_000, new LastOutput());
        shardB.onEvent(null, 8_000, new LastOutput());

        advance(4999);
        assertEquals(IDLE, emittedEvent(shardA));
        assertEquals(IDLE, emittedEvent(shardB));

        advance(1);
        assertEquals(14_799L, emitted(shardA));
        assertEquals(14_799L, emitted(shardB));
        assertEquals(14_799L, emitted(main));
        advance(1000);
        assertEquals(15_799L, emitted(shardA));
        assertEquals(15_799L, emitted(shardB));

        shardB.onEvent(null, 20_000, new LastOutput());
        assertEquals(IDLE, emittedEvent(shardA));
        assertEquals(19_799L, emitted(shardB));
    }

    @Test
    void closeWhenIdleOffOrWithoutRecordsNeverAdvances() {
        WatermarkStrategy<Row> off = strategy(200, 0, 0);
        WatermarkGenerator<Row> shard = generator(off);
        shard.onEvent(null, 10_000, new LastOutput());
        advance(3_600_000);
        assertEquals(9_799L, emitted(shard));

        WatermarkGenerator<Row> empty = generator(strategy(200, 0, 5000));
        advance(3_600_000);
        assertEquals(Long.MIN_VALUE, emitted(empty));
    }

    @Test
    void eachDeserializedStrategyKeepsItsOwnSubtaskState() throws Exception {
        WatermarkStrategy<Row> strategy = strategy(0, 0, 5000);
        WatermarkStrategy<Row> subtask1 = InstantiationUtil.clone(strategy);
        WatermarkStrategy<Row> subtask2 = InstantiationUtil.clone(strategy);
        WatermarkGenerator<Row> busy = generator(subtask1);
        WatermarkGenerator<Row> quiet = generator(subtask2);
        quiet.onEvent(null, 1000, new LastOutput());
        advance(5000);

        busy.onEvent(null, 2000, new LastOutput());

        assertEquals(1999L, emitted(busy));
        assertEquals(5999L, emitted(quiet));
    }

    @Test
    void rejectsNegativeDurations() {
        assertThrows(
                IllegalArgumentException.class,
                () -> EventTimeWatermarks.create("json", "", "t", "epoch_ms", -1, 0, 0));
        assertThrows(
                IllegalArgumentException.class,
                () -> EventTimeWatermarks.create("json", "", null, "epoch_ms", 0, 0, -1));
    }

    private static WatermarkStrategy<Row> strategy(
            long outOfOrdernessMs, long idlenessMs, long closeWhenIdleMs) {
        return EventTimeWatermarks.create(
                "json", "", "t", "epoch_ms", outOfOrdernessMs, idlenessMs, closeWhenIdleMs);
    }

    private WatermarkGenerator<Row> generator(WatermarkStrategy<Row> strategy) {
        return strategy.createWatermarkGenerator(
                new WatermarkGeneratorSupplier.Context() {
                    @Override
                    public MetricGroup getMetricGroup() {
                        return new UnregisteredMetricsGroup();
                    }

                    @Override
                    public RelativeClock getInputActivityClock() {
                        return clock;
                    }
                });
    }

    private void advance(long millis) {
        clock.advanceTime(millis, TimeUnit.MILLISECONDS);
    }

    private static long emitted(WatermarkGenerator<Row> generator) {
        Object event = emittedEvent(generator);
        if (!(event instanceof Long)) {
            throw new AssertionError("expected a watermark, got " + event);
        }
        return (Long) event;
    }

    private static Object emittedEvent(WatermarkGenerator<Row> generator) {
        LastOutput output = new LastOutput();
        generator.onPeriodicEmit(output);
        return output.last;
    }

    private static Row row(String payload, String sourceError) {
        return Row.of(payload, 5L, sourceError);
    }

    /** The last thing a generator did to its output: a watermark's timestamp, or idle. */
    private static final class LastOutput implements WatermarkOutput {
        Object last = NOTHING;

        @Override
        public void emitWatermark(Watermark watermark) {
            last = watermark.getTimestamp();
        }

        @Override
        public void markIdle() {
            last = IDLE;
        }

        @Override
        public void markActive() {}
    }
}
