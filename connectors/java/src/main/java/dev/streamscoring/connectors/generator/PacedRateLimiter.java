package dev.streamscoring.connectors.generator;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.LongSupplier;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;

/**
 * Holds a source to an average rate by pausing only when it is a few milliseconds ahead.
 *
 * <p>Pausing per record, as a token bucket does, costs more than emitting a record at rates
 * of tens of thousands per second (the thread cannot sleep for a few microseconds); this one
 * keeps the running count on schedule instead and sleeps in slices of at least {@link
 * #MIN_PAUSE_NANOS}.
 */
final class PacedRateLimiter<SplitT extends SourceSplit> implements RateLimiter<SplitT> {
    static final long MIN_PAUSE_NANOS = 2_000_000L;
    private static final CompletionStage<Void> NOW = CompletableFuture.completedFuture(null);

    private final double recordsPerSecond;
    private final LongSupplier clock;
    private final Sleeper sleeper;
    private long startNanos = -1;
    private long permits;

    interface Sleeper {
        void sleep(long nanos) throws InterruptedException;
    }

    PacedRateLimiter(double recordsPerSecond, LongSupplier clock, Sleeper sleeper) {
        if (!(recordsPerSecond > 0)) {
            throw new IllegalArgumentException("the rate must be positive");
        }
        this.recordsPerSecond = recordsPerSecond;
        this.clock = clock;
        this.sleeper = sleeper;
    }

    @Override
    public CompletionStage<Void> acquire(int count) {
        long now = clock.getAsLong();
        if (startNanos < 0) {
            startNanos = now;
        }
        permits += count;
        long due = startNanos + (long) (permits * 1e9 / recordsPerSecond);
        long ahead = due - now;
        if (ahead >= MIN_PAUSE_NANOS) {
            try {
                sleeper.sleep(ahead);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return NOW;
    }

    /** A strategy giving each of the source's subtasks its share of {@code recordsPerSecond}. */
    static <SplitT extends SourceSplit> RateLimiterStrategy<SplitT> strategy(double recordsPerSecond) {
        return parallelism ->
                new PacedRateLimiter<>(
                        recordsPerSecond / parallelism,
                        System::nanoTime,
                        nanos -> Thread.sleep(nanos / 1_000_000L, (int) (nanos % 1_000_000L)));
    }
}
