package dev.streamscoring.connectors.generator;

import dev.streamscoring.connectors.kinesis.PayloadRows;

import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.types.Row;

/**
 * A source of taxi-trip records inside the job, in place of Kinesis: for measuring the job's
 * own ceiling where an emulator would be the limit. It emits the rows the Kinesis source emits
 * ({@link PayloadRows}), with the time a record is generated as its arrival time, so the job's
 * watermark strategy and SQL are the same whichever source feeds them.
 */
public final class TripGeneratorSource {
    private TripGeneratorSource() {}

    /**
     * @param recordsPerSecond the rate over all subtasks; 0 or less for as fast as the job takes them
     * @param count how many records in all (Long.MAX_VALUE for an endless stream)
     */
    public static DataGeneratorSource<Row> create(
            double recordsPerSecond, long count, long seed, long malformedEvery) {
        RateLimiterStrategy<?> rate =
                recordsPerSecond > 0 ? PacedRateLimiter.strategy(recordsPerSecond) : RateLimiterStrategy.noOp();
        return new DataGeneratorSource<>(
                new TripRows(new TripRecords(seed, malformedEvery)), count, rate, PayloadRows.rowType());
    }

    /** Trip records as payload rows stamped with the time they are generated. */
    private static final class TripRows implements GeneratorFunction<Long, Row> {
        private static final long serialVersionUID = 1L;

        private final TripRecords trips;

        TripRows(TripRecords trips) {
            this.trips = trips;
        }

        @Override
        public void open(SourceReaderContext readerContext) throws Exception {
            trips.open(readerContext);
        }

        @Override
        public Row map(Long index) {
            return Row.of(trips.map(index), System.currentTimeMillis(), null);
        }
    }
}
