package dev.streamscoring.connectors.firehose;

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
import software.amazon.awssdk.services.firehose.FirehoseAsyncClient;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchRequest;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchResponse;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchResponseEntry;
import software.amazon.awssdk.services.firehose.model.Record;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;

/**
 * Sends batches of buffered records with PutRecordBatch; retries exactly the records that failed
 * and counts them in {@link SinkFailureMetrics}.
 */
final class FirehoseSinkWriter<T> extends AsyncSinkWriter<T, Record> {

    private static final Logger LOG = LoggerFactory.getLogger(FirehoseSinkWriter.class);

    private final FirehoseAsyncClient client;
    private final String deliveryStreamName;
    private final String target;
    private final RetryBackoff backoff;
    private final SinkFailureMetrics failures;

    FirehoseSinkWriter(
            ElementConverter<T, Record> elementConverter,
            WriterInitContext context,
            AsyncSinkWriterConfiguration configuration,
            Collection<BufferedRequestState<Record>> states,
            String deliveryStreamName,
            Properties clientProperties) {
        this(
                elementConverter,
                context,
                configuration,
                states,
                deliveryStreamName,
                AwsClientFactory.createFirehoseAsyncClient(clientProperties));
    }

    /** Writes with {@code client}, which it closes. */
    FirehoseSinkWriter(
            ElementConverter<T, Record> elementConverter,
            WriterInitContext context,
            AsyncSinkWriterConfiguration configuration,
            Collection<BufferedRequestState<Record>> states,
            String deliveryStreamName,
            FirehoseAsyncClient client) {
        super(
                elementConverter,
                context,
                configuration,
                states,
                new SimpleBatchCreator<>(configuration.getMaxBatchSizeInBytes()),
                new DequeRequestBuffer<>());
        this.deliveryStreamName = deliveryStreamName;
        this.target = "Firehose delivery stream " + deliveryStreamName;
        this.client = client;
        this.backoff = new RetryBackoff("firehose-sink-retry");
        this.failures = new SinkFailureMetrics(context.metricGroup());
    }

    @Override
    protected void submitRequestEntries(List<Record> entries, ResultHandler<Record> resultHandler) {
        PutRecordBatchRequest request =
                PutRecordBatchRequest.builder()
                        .deliveryStreamName(deliveryStreamName)
                        .records(entries)
                        .build();
        client.putRecordBatch(request)
                .whenComplete(
                        (response, error) -> {
                            if (error != null) {
                                AwsErrors.handleFailedRequest(
                                        target, error, entries, resultHandler, backoff, failures);
                            } else if (response.failedPutCount() != null
                                    && response.failedPutCount() > 0) {
                                List<Record> failed = failedEntries(entries, response);
                                failures.failed(failed.size());
                                failures.retrying(failed.size());
                                backoff.retryLater(() -> resultHandler.retryForEntries(failed));
                            } else {
                                backoff.onSuccess();
                                resultHandler.complete();
                            }
                        });
    }

    private List<Record> failedEntries(List<Record> entries, PutRecordBatchResponse response) {
        List<PutRecordBatchResponseEntry> results = response.requestResponses();
        if (results.size() != entries.size()) {
            LOG.warn(
                    "PutRecordBatch to {} answered {} results for {} records; retrying all of them",
                    target,
                    results.size(),
                    entries.size());
            return entries;
        }
        List<Record> failed = new ArrayList<>(response.failedPutCount());
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
    protected long getSizeInBytes(Record record) {
        return record.data().asByteArrayUnsafe().length;
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
