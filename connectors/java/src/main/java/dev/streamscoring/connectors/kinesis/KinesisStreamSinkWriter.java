package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsClientFactory;
import dev.streamscoring.connectors.aws.AwsErrors;
import dev.streamscoring.connectors.aws.RetryBackoff;
import dev.streamscoring.connectors.aws.SinkFailureMetrics;

import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriter;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.DequeRequestBuffer;
import org.apache.flink.connector.base.sink.writer.ElementConverter;
import org.apache.flink.connector.base.sink.writer.ResultHandler;
import org.apache.flink.connector.base.sink.writer.SimpleBatchCreator;
import org.apache.flink.connector.base.sink.writer.config.AsyncSinkWriterConfiguration;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;

/**
 * Sends batches of buffered entries with PutRecords; retries exactly the records that failed and
 * counts them in {@link SinkFailureMetrics}.
 */
final class KinesisStreamSinkWriter<T> extends AsyncSinkWriter<T, PutRecordsRequestEntry> {

    private static final Logger LOG = LoggerFactory.getLogger(KinesisStreamSinkWriter.class);

    private final KinesisAsyncClient client;
    private final String streamName;
    private final String streamArn;
    private final String target;
    private final RetryBackoff backoff;
    private final SinkFailureMetrics failures;

    KinesisStreamSinkWriter(
            ElementConverter<T, PutRecordsRequestEntry> elementConverter,
            WriterInitContext context,
            AsyncSinkWriterConfiguration configuration,
            Collection<BufferedRequestState<PutRecordsRequestEntry>> states,
            String streamName,
            String streamArn,
            Properties clientProperties) {
        this(
                elementConverter,
                context,
                configuration,
                states,
                streamName,
                streamArn,
                AwsClientFactory.createKinesisAsyncClient(clientProperties));
    }

    /** Writes with {@code client}, which it closes. */
    KinesisStreamSinkWriter(
            ElementConverter<T, PutRecordsRequestEntry> elementConverter,
            WriterInitContext context,
            AsyncSinkWriterConfiguration configuration,
            Collection<BufferedRequestState<PutRecordsRequestEntry>> states,
            String streamName,
            String streamArn,
            KinesisAsyncClient client) {
        super(
                elementConverter,
                context,
                configuration,
                states,
                new SimpleBatchCreator<>(configuration.getMaxBatchSizeInBytes()),
                new DequeRequestBuffer<>());
        this.streamName = streamName;
        this.streamArn = streamArn;
        this.target = "Kinesis stream " + (streamArn != null ? streamArn : streamName);
        this.client = client;
        this.backoff = new RetryBackoff("kinesis-sink-retry");
        this.failures = new SinkFailureMetrics(context.metricGroup());
    }

    @Override
    protected void submitRequestEntries(
            List<PutRecordsRequestEntry> entries,
            ResultHandler<PutRecordsRequestEntry> resultHandler) {
        PutRecordsRequest request =
                PutRecordsRequest.builder()
                        .streamName(streamName)
                        .streamARN(streamArn)
                        .records(entries)
                        .build();
        client.putRecords(request)
                .whenComplete(
                        (response, error) -> {
                            if (error != null) {
                                AwsErrors.handleFailedRequest(
                                        target, error, entries, resultHandler, backoff, failures);
                            } else if (response.failedRecordCount() != null
                                    && response.failedRecordCount() > 0) {
                                List<PutRecordsRequestEntry> failed =
                                        failedEntries(entries, response);
                                failures.failed(failed.size());
                                failures.retrying(failed.size());
                                backoff.retryLater(() -> resultHandler.retryForEntries(failed));
                            } else {
                                backoff.onSuccess();
                                resultHandler.complete();
                            }
                        });
    }

    private List<PutRecordsRequestEntry> failedEntries(
            List<PutRecordsRequestEntry> entries, PutRecordsResponse response) {
        List<PutRecordsResultEntry> results = response.records();
        if (results.size() != entries.size()) {
            LOG.warn(
                    "PutRecords to {} answered {} results for {} records; retrying all of them",
                    target,
                    results.size(),
                    entries.size());
            return entries;
        }
        List<PutRecordsRequestEntry> failed = new ArrayList<>(response.failedRecordCount());
        String firstError = null;
        for (int i = 0; i < entries.size(); i++) {
            if (results.get(i).errorCode() != null) {
                failed.add(entries.get(i));
                if (firstError == null) {
                    firstError = results.get(i).errorCode() + ": " + results.get(i).errorMessage();
                }
            }
        }
        LOG.warn(
                "{} of {} records to {} failed ({}); retrying them",
                failed.size(),
                entries.size(),
                target,
                firstError);
        return failed;
    }

    @Override
    protected long getSizeInBytes(PutRecordsRequestEntry entry) {
        // PutRecords limits count the partition key's UTF-8 bytes, which a non-ASCII key exceeds
        // its length in characters by.
        return entry.data().asByteArrayUnsafe().length
                + entry.partitionKey().getBytes(StandardCharsets.UTF_8).length;
    }

    @Override
    public void close() {
        try {
            super.close();
        } finally {
            backoff.close();
            client.close();
        }
    }
}
