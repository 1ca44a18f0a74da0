package dev.streamscoring.connectors.aws;

import org.apache.flink.connector.base.sink.writer.config.AsyncSinkWriterConfiguration;

import java.io.Serializable;

/**
 * Batching and buffering settings of an async sink: the builder's values, or defaults derived from
 * the service's request limits, checked against those limits.
 */
public final class SinkSettings implements Serializable {

    private static final long serialVersionUID = 1L;

    public static final int DEFAULT_MAX_IN_FLIGHT_REQUESTS = 50;
    public static final int DEFAULT_MAX_BUFFERED_REQUESTS = 10_000;
    // A window's record waits at most this long for others to share its request; the job writes
    // few records per second to the delivery stream, so a longer wait only delays them
    // (BENCHMARKS.md: 5 s here made the delivery latency 7.4 s, 1 s makes it about 3.5 s).
    public static final long DEFAULT_MAX_TIME_IN_BUFFER_MS = 1_000L;

    public final int maxBatchSize;
    public final int maxInFlightRequests;
    public final int maxBufferedRequests;
    public final long maxBatchSizeInBytes;
    public final long maxTimeInBufferMS;
    public final long maxRecordSizeInBytes;

    private SinkSettings(
            int maxBatchSize,
            int maxInFlightRequests,
            int maxBufferedRequests,
            long maxBatchSizeInBytes,
            long maxTimeInBufferMS,
            long maxRecordSizeInBytes) {
        this.maxBatchSize = maxBatchSize;
        this.maxInFlightRequests = maxInFlightRequests;
        this.maxBufferedRequests = maxBufferedRequests;
        this.maxBatchSizeInBytes = maxBatchSizeInBytes;
        this.maxTimeInBufferMS = maxTimeInBufferMS;
        this.maxRecordSizeInBytes = maxRecordSizeInBytes;
    }

    /**
     * Fills unset (null) values with defaults; the service limits are the defaults and upper bounds
     * of the batch and record sizes.
     */
    public static SinkSettings resolve(
            String sinkName,
            Integer maxBatchSize,
            Integer maxInFlightRequests,
            Integer maxBufferedRequests,
            Long maxBatchSizeInBytes,
            Long maxTimeInBufferMS,
            Long maxRecordSizeInBytes,
            int batchSizeLimit,
            long batchBytesLimit,
            long recordBytesLimit) {
        SinkSettings settings =
                new SinkSettings(
                        maxBatchSize != null ? maxBatchSize : batchSizeLimit,
                        maxInFlightRequests != null
                                ? maxInFlightRequests
                                : DEFAULT_MAX_IN_FLIGHT_REQUESTS,
                        maxBufferedRequests != null
                                ? maxBufferedRequests
                                : DEFAULT_MAX_BUFFERED_REQUESTS,
                        maxBatchSizeInBytes != null ? maxBatchSizeInBytes : batchBytesLimit,
                        maxTimeInBufferMS != null
                                ? maxTimeInBufferMS
                                : DEFAULT_MAX_TIME_IN_BUFFER_MS,
                        maxRecordSizeInBytes != null ? maxRecordSizeInBytes : recordBytesLimit);
        check(sinkName, "maxBatchSize", settings.maxBatchSize, batchSizeLimit);
        check(sinkName, "maxBatchSizeInBytes", settings.maxBatchSizeInBytes, batchBytesLimit);
        check(sinkName, "maxRecordSizeInBytes", settings.maxRecordSizeInBytes, recordBytesLimit);
        return settings;
    }

    private static void check(String sinkName, String name, long value, long limit) {
        if (value <= 0 || value > limit) {
            throw new IllegalArgumentException(
                    sinkName + ": " + name + " must be in 1.." + limit + ", got " + value);
        }
    }

    public AsyncSinkWriterConfiguration writerConfiguration() {
        return AsyncSinkWriterConfiguration.builder()
                .setMaxBatchSize(maxBatchSize)
                .setMaxBatchSizeInBytes(maxBatchSizeInBytes)
                .setMaxInFlightRequests(maxInFlightRequests)
                .setMaxBufferedRequests(maxBufferedRequests)
                .setMaxTimeInBufferMS(maxTimeInBufferMS)
                .setMaxRecordSizeInBytes(maxRecordSizeInBytes)
                .build();
    }
}
