package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsErrors;

import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.LimitExceededException;
import software.amazon.awssdk.services.kinesis.model.ProvisionedThroughputExceededException;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;

/** Kinesis errors the source handles on its own rather than by retrying or failing. */
final class KinesisErrors {

    private KinesisErrors() {}

    /** The shard or stream does not exist (any more). */
    static boolean isResourceNotFound(Throwable error) {
        return hasCause(error, ResourceNotFoundException.class);
    }

    static boolean isExpiredIterator(Throwable error) {
        return hasCause(error, ExpiredIteratorException.class);
    }

    /** A per-shard or per-account rate limit was hit; the call may be repeated after a pause. */
    static boolean isThrottled(Throwable error) {
        return AwsErrors.isThrottling(error)
                || hasCause(error, ProvisionedThroughputExceededException.class)
                || hasCause(error, LimitExceededException.class);
    }

    private static boolean hasCause(Throwable error, Class<? extends Throwable> type) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
            if (t.getCause() == t) {
                return false;
            }
        }
        return false;
    }
}
