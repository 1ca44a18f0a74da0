package dev.streamscoring.connectors.generator;

import org.apache.flink.api.common.eventtime.IngestionTimeAssigner;
import org.apache.flink.api.common.eventtime.TimestampAssignerSupplier;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;

/**
 * A source of taxi-trip records inside the job, in place of Kinesis: for measuring the job's
 * own ceiling where an emulator would be the limit. Records are stamped with the time they are
 * emitted, as the Kinesis source stamps them with their arrival time.
 */
public final class TripGeneratorSource {
    private TripGeneratorSource() {}

    /**
     * @param recordsPerSecond the rate over all subtasks; 0 or less for as fast as the job takes them
     * @param count how many records in all (Long.MAX_VALUE for an endless stream)
     */
    public static DataGeneratorSource<String> create(
            double recordsPerSecond, long count, long seed, long malformedEvery) {
        RateLimiterStrategy<?> rate =
                recordsPerSecond > 0 ? PacedRateLimiter.strategy(recordsPerSecond) : RateLimiterStrategy.noOp();
        return new DataGeneratorSource<>(new TripRecords(seed, malformedEvery), count, rate, Types.STRING);
    }

    /** Emission time as the record timestamp; watermarks are left to the SQL that follows. */
    public static WatermarkStrategy<String> emissionTimestamps() {
        TimestampAssignerSupplier<String> assigner = context -> new IngestionTimeAssigner<>();
        return WatermarkStrategy.<String>noWatermarks().withTimestampAssigner(assigner);
    }
}
