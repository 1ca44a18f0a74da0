package dev.streamscoring.connectors.generator;

import java.util.SplittableRandom;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * Taxi trips in the workshop's record form, computed from the record's index alone.
 *
 * <p>A trip is 16 comma-separated features in a JSON string, as the local producer writes them
 * to Kinesis; the fare follows base + per mile + per minute plus noise. Every {@code
 * malformedEvery}-th record (0 = none) is a broken line for the dead-letter path. The same
 * index always gives the same record, so a restarted source produces the same data again.
 */
public final class TripRecords implements GeneratorFunction<Long, String> {
    private static final long serialVersionUID = 1L;

    static final double FARE_BASE = 2.5;
    static final double FARE_PER_MILE = 2.5;
    static final double FARE_PER_MINUTE = 0.35;
    static final double FARE_NOISE_STDDEV = 0.5;

    private final long seed;
    private final long malformedEvery;

    public TripRecords(long seed, long malformedEvery) {
        if (malformedEvery < 0) {
            throw new IllegalArgumentException("malformedEvery must be 0 or positive");
        }
        this.seed = seed;
        this.malformedEvery = malformedEvery;
    }

    @Override
    public void open(SourceReaderContext readerContext) {}

    @Override
    public String map(Long index) {
        if (malformedEvery > 0 && index % malformedEvery == malformedEvery - 1) {
            return "\"malformed trip " + index + "\"";
        }
        return "\"" + csvLine(new SplittableRandom(seed ^ (index * 0x9E3779B97F4A7C15L))) + "\"";
    }

    static String csvLine(SplittableRandom random) {
        double distance = round(uniform(random, 0.3, 12.0), 2);
        double duration = round(distance * uniform(random, 150.0, 330.0), 1);
        double fare = FARE_BASE + FARE_PER_MILE * distance + FARE_PER_MINUTE * duration / 60.0;
        fare = round(Math.max(2.5, fare + gaussian(random) * FARE_NOISE_STDDEV), 2);
        double pickupLon = -73.98 + uniform(random, -0.05, 0.05);
        double pickupLat = 40.75 + uniform(random, -0.05, 0.05);
        int payment = random.nextInt(3);
        StringBuilder line = new StringBuilder(160);
        line.append(1 + random.nextInt(2)).append(',')
            .append(distance).append(',')
            .append(round(pickupLon, 6)).append(',')
            .append(round(pickupLat, 6)).append(',')
            .append(1).append(',')
            .append(round(pickupLon + uniform(random, -0.03, 0.03), 6)).append(',')
            .append(round(pickupLat + uniform(random, -0.03, 0.03), 6)).append(',')
            .append(random.nextInt(3) * 0.5).append(',')
            .append(0.5).append(',')
            .append(payment == 0 ? round(uniform(random, 0.0, 3.0), 2) : 0.0).append(',')
            .append(0.0).append(',')
            .append(fare).append(',')
            .append(duration).append(',')
            .append(payment == 0 ? 1.0 : 0.0).append(',')
            .append(payment == 1 ? 1.0 : 0.0).append(',')
            .append(payment == 2 ? 1.0 : 0.0);
        return line.toString();
    }

    private static double uniform(SplittableRandom random, double low, double high) {
        return low + (high - low) * random.nextDouble();
    }

    /** A standard normal draw (Box-Muller). */
    private static double gaussian(SplittableRandom random) {
        double u = 1.0 - random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2.0 * Math.PI * random.nextDouble());
    }

    private static double round(double value, int decimals) {
        double scale = Math.pow(10, decimals);
        return Math.round(value * scale) / scale;
    }
}
