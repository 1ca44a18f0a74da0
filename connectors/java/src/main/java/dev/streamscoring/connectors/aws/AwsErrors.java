package dev.streamscoring.connectors.aws;

import org.apache.flink.connector.base.sink.writer.ResultHandler;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Tells transient AWS errors (throttling, server errors, network trouble), which are retried, from
 * fatal ones (missing resources, denied access, invalid requests), which fail the job.
 */
public final class AwsErrors {

    private static final Logger LOG = LoggerFactory.getLogger(AwsErrors.class);

    /** 4xx error codes that are nevertheless transient. */
    private static final Set<String> RETRYABLE_CLIENT_ERROR_CODES =
            new HashSet<>(
                    Arrays.asList(
                            "ProvisionedThroughputExceededException",
                            "LimitExceededException",
                            "ThrottlingException",
                            "KMSThrottlingException",
                            "ServiceUnavailableException",
                            "ExpiredTokenException",
                            "RequestExpired",
                            "RequestTimeout",
                            "RequestTimeoutException"));

    private AwsErrors() {}

    /** True if the failed call may succeed when repeated. */
    public static boolean isRetryable(Throwable error) {
        Throwable cause = unwrap(error);
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof SdkServiceException) {
                SdkServiceException service = (SdkServiceException) t;
                return service.isThrottlingException()
                        || service.statusCode() >= 500
                        || service.statusCode() == 429
                        || RETRYABLE_CLIENT_ERROR_CODES.contains(errorCode(service));
            }
            if (t instanceof SdkClientException) {
                // Missing credentials do not fix themselves; I/O and timeouts usually do.
                String message = String.valueOf(t.getMessage());
                return !message.contains("Unable to load credentials");
            }
            if (t instanceof IOException) {
                return true;
            }
        }
        return false;
    }

    /** True if the call was rejected by a throughput limit (and is worth repeating later). */
    public static boolean isThrottling(Throwable error) {
        for (Throwable t = unwrap(error); t != null; t = t.getCause()) {
            if (t instanceof SdkServiceException) {
                SdkServiceException service = (SdkServiceException) t;
                String code = errorCode(service);
                return service.isThrottlingException()
                        || service.statusCode() == 429
                        || "ProvisionedThroughputExceededException".equals(code)
                        || "KMSThrottlingException".equals(code);
            }
        }
        return false;
    }

    /** The AWS error code, or the exception class name when there is none. */
    public static String errorCode(Throwable error) {
        Throwable cause = unwrap(error);
        if (cause instanceof AwsServiceException
                && ((AwsServiceException) cause).awsErrorDetails() != null
                && ((AwsServiceException) cause).awsErrorDetails().errorCode() != null) {
            return ((AwsServiceException) cause).awsErrorDetails().errorCode();
        }
        return cause.getClass().getSimpleName();
    }

    /**
     * Completes a sink request whose call failed as a whole: retries all entries after a backoff on
     * a transient error, otherwise fails the writer (and so the job) with a message naming the
     * target. Either way the entries count as failed.
     */
    public static <E> void handleFailedRequest(
            String target,
            Throwable error,
            List<E> entries,
            ResultHandler<E> handler,
            RetryBackoff backoff,
            SinkFailureMetrics metrics) {
        Throwable cause = unwrap(error);
        metrics.failed(entries.size());
        if (isRetryable(cause)) {
            metrics.retrying(entries.size());
            LOG.warn(
                    "Request with {} records to {} failed with a transient error ({}: {});"
                            + " retrying",
                    entries.size(),
                    target,
                    errorCode(cause),
                    cause.getMessage());
            backoff.retryLater(() -> handler.retryForEntries(entries));
        } else {
            handler.completeExceptionally(
                    new AwsConnectorException(
                            "Writing to "
                                    + target
                                    + " failed with a non-retryable error "
                                    + errorCode(cause)
                                    + ": "
                                    + cause.getMessage(),
                            cause));
        }
    }

    private static Throwable unwrap(Throwable error) {
        Throwable t = error;
        while ((t instanceof CompletionException || t instanceof ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
