package dev.streamscoring.connectors.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.connector.source.SourceSplit;
import org.junit.jupiter.api.Test;

class PacedRateLimiterTest {

    /** A clock that only moves when the limiter sleeps, or when the test says so. */
    private static final class FakeTime {
        long now = 1_000_000_000L;
        final List<Long> sleeps = new ArrayList<>();
    }

    private static PacedRateLimiter<SourceSplit> limiter(double rate, FakeTime time) {
        return new PacedRateLimiter<>(rate, () -> time.now, nanos -> {
            time.sleeps.add(nanos);
            time.now += nanos;
        });
    }

    @Test
    void sleepsOnlyOnceTwoMillisecondsAhead() {
        FakeTime time = new FakeTime();
        PacedRateLimiter<SourceSplit> limiter = limiter(1000.0, time); // one record per ms
        limiter.acquire(1); // the first record sets the start: due at +1 ms, under the threshold
        assertEquals(List.of(), time.sleeps);
        limiter.acquire(1); // due at +2 ms, 2 ms ahead
        assertEquals(List.of(2_000_000L), time.sleeps);
    }

    @Test
    void holdsTheAverageRate() {
        FakeTime time = new FakeTime();
        PacedRateLimiter<SourceSplit> limiter = limiter(50_000.0, time);
        long start = time.now;
        for (int i = 0; i < 100_000; i++) {
            limiter.acquire(1);
        }
        long elapsed = time.now - start;
        // 100,000 records at 50,000/s: 2 s, less at most one pause threshold.
        assertEquals(2_000_000_000L, elapsed, PacedRateLimiter.MIN_PAUSE_NANOS);
    }

    @Test
    void aSlowConsumerIsNotMadeSlower() {
        FakeTime time = new FakeTime();
        PacedRateLimiter<SourceSplit> limiter = limiter(1000.0, time);
        for (int i = 0; i < 10; i++) {
            time.now += 5_000_000L; // 5 ms per record: behind schedule, never ahead
            limiter.acquire(1);
        }
        assertEquals(List.of(), time.sleeps);
    }

    @Test
    void theRateMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> limiter(0.0, new FakeTime()));
    }
}
