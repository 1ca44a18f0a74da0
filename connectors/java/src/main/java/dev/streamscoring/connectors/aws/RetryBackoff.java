package dev.streamscoring.connectors.aws;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Delays the re-submission of failed sink records exponentially (100 ms doubling up to 5 s) while
 * requests keep failing, so that an unreachable or throttling service is not hammered; a fully
 * successful request resets the delay.
 */
public final class RetryBackoff implements AutoCloseable {

    private static final long BASE_DELAY_MS = 100L;
    private static final long MAX_DELAY_MS = 5_000L;

    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private final ScheduledExecutorService scheduler;

    public RetryBackoff(String threadName) {
        this.scheduler =
                Executors.newSingleThreadScheduledExecutor(
                        runnable -> {
                            Thread thread = new Thread(runnable, threadName);
                            thread.setDaemon(true);
                            return thread;
                        });
    }

    public void onSuccess() {
        consecutiveFailures.set(0);
    }

    /** Runs {@code retry} after the current backoff delay, which then grows. */
    public void retryLater(Runnable retry) {
        int failures = consecutiveFailures.incrementAndGet();
        long delayMs = Math.min(MAX_DELAY_MS, BASE_DELAY_MS << Math.min(failures - 1, 16));
        scheduler.schedule(retry, delayMs, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
