package dev.streamscoring.connectors.firehose;

import dev.streamscoring.connectors.aws.AwsConnectorException;
import dev.streamscoring.connectors.aws.RecordingResultHandler;
import dev.streamscoring.connectors.aws.SinkSettings;
import dev.streamscoring.connectors.aws.TestWriterContext;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.firehose.FirehoseAsyncClient;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchRequest;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchResponse;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchResponseEntry;
import software.amazon.awssdk.services.firehose.model.Record;
import software.amazon.awssdk.services.firehose.model.ResourceNotFoundException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Retries and failure metrics of the Firehose sink writer against a fake Firehose client. */
class FirehoseSinkWriterTest {

    private static final List<Record> RECORDS =
            Arrays.asList(record("a"), record("b"), record("c"), record("d"));

    private final TestWriterContext context = new TestWriterContext();
    private final FakeFirehose firehose = new FakeFirehose();
    private final FirehoseSinkWriter<String> writer =
            new FirehoseSinkWriter<>(
                    new FirehoseElementConverter<>(s -> s.getBytes(StandardCharsets.UTF_8)),
                    context,
                    SinkSettings.resolve(
                                    "FirehoseSink",
                                    null,
                                    null,
                                    null,
                                    null,
                                    null,
                                    null,
                                    FirehoseSink.MAX_BATCH_SIZE,
                                    FirehoseSink.MAX_BATCH_SIZE_IN_BYTES,
                                    FirehoseSink.MAX_RECORD_SIZE_IN_BYTES)
                            .writerConfiguration(),
                    Collections.emptyList(),
                    "scores",
                    firehose);

    @AfterEach
    void closeWriter() {
        writer.close();
    }

    private static Record record(String text) {
        return Record.builder().data(SdkBytes.fromUtf8String(text + "\n")).build();
    }

    private static PutRecordBatchResponseEntry ok() {
        return PutRecordBatchResponseEntry.builder().recordId("r").build();
    }

    private static PutRecordBatchResponseEntry failed() {
        return PutRecordBatchResponseEntry.builder()
                .errorCode("ServiceUnavailableException")
                .errorMessage("Slow down.")
                .build();
    }

    private RecordingResultHandler.Outcome<Record> submit() throws Exception {
        RecordingResultHandler<Record> handler = new RecordingResultHandler<>();
        writer.submitRequestEntries(RECORDS, handler);
        return handler.await();
    }

    @Test
    void partiallyFailedBatchRetriesExactlyTheFailedRecordsAndCountsThem() throws Exception {
        firehose.answer(
                PutRecordBatchResponse.builder()
                        .failedPutCount(1)
                        .requestResponses(ok(), ok(), ok(), failed())
                        .build());
        RecordingResultHandler.Outcome<Record> outcome = submit();
        assertEquals(Collections.singletonList(RECORDS.get(3)), outcome.retried);
        assertEquals(1, context.count("numRecordsOutErrors"));
        assertEquals(1, context.count("numRecordsSendErrors"));
        assertEquals(1, context.count("retriedRecords"));
        assertEquals("scores", firehose.requests.get(0).deliveryStreamName());
    }

    @Test
    void networkFailureRetriesTheWholeBatchAndCountsIt() throws Exception {
        firehose.fail(
                SdkClientException.create(
                        "Unable to execute HTTP request", new IOException("reset")));
        RecordingResultHandler.Outcome<Record> outcome = submit();
        assertEquals(RECORDS, outcome.retried);
        assertEquals(4, context.count("numRecordsOutErrors"));
        assertEquals(4, context.count("retriedRecords"));
    }

    @Test
    void missingDeliveryStreamFailsTheWriterAndCountsTheRecordsAsNotRetried() throws Exception {
        firehose.fail(
                ResourceNotFoundException.builder()
                        .statusCode(400)
                        .awsErrorDetails(
                                AwsErrorDetails.builder()
                                        .errorCode("ResourceNotFoundException")
                                        .errorMessage("Firehose scores not found")
                                        .build())
                        .build());
        RecordingResultHandler.Outcome<Record> outcome = submit();
        assertInstanceOf(AwsConnectorException.class, outcome.failure);
        assertEquals(4, context.count("numRecordsOutErrors"));
        assertEquals(0, context.count("retriedRecords"));
    }

    @Test
    void sinkBuildRefusesAMalformedRoleArnByKey() {
        Properties client = new Properties();
        client.setProperty("aws.region", "us-east-1");
        client.setProperty("aws.credentials.provider.role.arn", "role/writer");
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                FirehoseSink.<String>builder()
                                        .setDeliveryStreamName("scores")
                                        .setFirehoseClientProperties(client)
                                        .setSerializationSchema(
                                                s -> s.getBytes(StandardCharsets.UTF_8))
                                        .build());
        assertTrue(
                error.getMessage()
                        .startsWith(
                                "FirehoseSink: client property"
                                        + " 'aws.credentials.provider.role.arn' must be"),
                error.getMessage());
    }

    /** Answers PutRecordBatch calls with the queued results, in order. */
    private static final class FakeFirehose implements FirehoseAsyncClient {
        final List<PutRecordBatchRequest> requests = new ArrayList<>();
        private final List<CompletableFuture<PutRecordBatchResponse>> answers = new ArrayList<>();

        void answer(PutRecordBatchResponse response) {
            answers.add(CompletableFuture.completedFuture(response));
        }

        void fail(Throwable error) {
            CompletableFuture<PutRecordBatchResponse> failed = new CompletableFuture<>();
            failed.completeExceptionally(error);
            answers.add(failed);
        }

        @Override
        public CompletableFuture<PutRecordBatchResponse> putRecordBatch(
                PutRecordBatchRequest request) {
            requests.add(request);
            return answers.remove(0);
        }

        @Override
        public String serviceName() {
            return "firehose";
        }

        @Override
        public void close() {}
    }
}
