package dev.streamscoring.connectors.aws;

import org.apache.flink.connector.base.sink.writer.ResultHandler;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Captures how a sink writer completes one request, for tests to wait on (retries arrive late,
 * after a backoff delay).
 */
public final class RecordingResultHandler<E> implements ResultHandler<E> {

    /** How a request ended: completed, entries to retry, or a failure; one is set. */
    public static final class Outcome<E> {
        public final boolean completed;
        public final List<E> retried;
        public final Exception failure;

        private Outcome(boolean completed, List<E> retried, Exception failure) {
            this.completed = completed;
            this.retried = retried;
            this.failure = failure;
        }
    }

    private final CompletableFuture<Outcome<E>> outcome = new CompletableFuture<>();

    /** Waits up to ten seconds for the request to end. */
    public Outcome<E> await() throws Exception {
        return outcome.get(10, TimeUnit.SECONDS);
    }

    @Override
    public void complete() {
        outcome.complete(new Outcome<>(true, null, null));
    }

    @Override
    public void completeExceptionally(Exception e) {
        outcome.complete(new Outcome<>(false, null, e));
    }

    @Override
    public void retryForEntries(List<E> requestEntriesToRetry) {
        outcome.complete(new Outcome<>(false, requestEntriesToRetry, null));
    }
}
