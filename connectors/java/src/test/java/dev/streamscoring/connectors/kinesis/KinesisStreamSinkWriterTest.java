package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsConnectorException;
import dev.streamscoring.connectors.aws.RecordingResultHandler;
import dev.streamscoring.connectors.aws.SinkSettings;
import dev.streamscoring.connectors.aws.TestWriterContext;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;

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

/** Retries and failure metrics of the Kinesis sink writer against a fake Kinesis client. */
class KinesisStreamSinkWriterTest {

    private static final List<PutRecordsRequestEntry> ENTRIES =
            Arrays.asList(entry("a"), entry("b"), entry("c"));

    private final TestWriterContext context = new TestWriterContext();
    private final FakeKinesis kinesis = new FakeKinesis();
    private final KinesisStreamSinkWriter<String> writer =
            new KinesisStreamSinkWriter<>(
                    new KinesisStreamElementConverter<>(s -> s.getBytes(StandardCharsets.UTF_8)),
                    context,
                    SinkSettings.resolve(
                                    "KinesisStreamSink",
                                    null,
                                    null,
                                    null,
                                    null,
                                    null,
                                    null,
                                    KinesisStreamSink.MAX_BATCH_SIZE,
                                    KinesisStreamSink.MAX_BATCH_SIZE_IN_BYTES,
                                    KinesisStreamSink.MAX_RECORD_SIZE_IN_BYTES)
                            .writerConfiguration(),
                    Collections.emptyList(),
                    "out",
                    null,
                    kinesis);

    @AfterEach
    void closeWriter() {
        writer.close();
    }

    private static PutRecordsRequestEntry entry(String key) {
        return PutRecordsRequestEntry.builder()
                .data(SdkBytes.fromUtf8String("{\"vendor_id\":\"" + key + "\"}"))
                .partitionKey(key)
                .build();
    }

    private static PutRecordsResultEntry ok() {
        return PutRecordsResultEntry.builder().sequenceNumber("1").shardId("shardId-0").build();
    }

    private static PutRecordsResultEntry failed(String code) {
        return PutRecordsResultEntry.builder().errorCode(code).errorMessage("try later").build();
    }

    private RecordingResultHandler.Outcome<PutRecordsRequestEntry> submit() throws Exception {
        RecordingResultHandler<PutRecordsRequestEntry> handler = new RecordingResultHandler<>();
        writer.submitRequestEntries(ENTRIES, handler);
        return handler.await();
    }

    @Test
    void partiallyFailedRequestRetriesExactlyTheFailedRecordsAndCountsThem() throws Exception {
        kinesis.answer(
                PutRecordsResponse.builder()
                        .failedRecordCount(2)
                        .records(
                                failed("ProvisionedThroughputExceededException"),
                                ok(),
                                failed("InternalFailure"))
                        .build());
        RecordingResultHandler.Outcome<PutRecordsRequestEntry> outcome = submit();
        assertEquals(Arrays.asList(ENTRIES.get(0), ENTRIES.get(2)), outcome.retried);
        assertEquals(2, context.count("numRecordsOutErrors"));
        assertEquals(2, context.count("numRecordsSendErrors"));
        assertEquals(2, context.count("retriedRecords"));
        assertEquals("out", kinesis.requests.get(0).streamName());
        assertEquals(ENTRIES, kinesis.requests.get(0).records());
    }

    @Test
    void transientRequestFailureRetriesAllRecordsAndCountsThem() throws Exception {
        kinesis.fail(
                KinesisException.builder().statusCode(503).message("slow down").build());
        RecordingResultHandler.Outcome<PutRecordsRequestEntry> outcome = submit();
        assertEquals(ENTRIES, outcome.retried);
        assertEquals(3, context.count("numRecordsOutErrors"));
        assertEquals(3, context.count("retriedRecords"));
    }

    @Test
    void fatalRequestFailureFailsTheWriterAndCountsTheRecordsAsNotRetried() throws Exception {
        kinesis.fail(
                ResourceNotFoundException.builder()
                        .statusCode(400)
                        .awsErrorDetails(
                                AwsErrorDetails.builder()
                                        .errorCode("ResourceNotFoundException")
                                        .errorMessage("Stream out not found")
                                        .build())
                        .build());
        RecordingResultHandler.Outcome<PutRecordsRequestEntry> outcome = submit();
        assertInstanceOf(AwsConnectorException.class, outcome.failure);
        assertTrue(
                outcome.failure.getMessage().contains("ResourceNotFoundException"),
                outcome.failure.getMessage());
        assertEquals(3, context.count("numRecordsOutErrors"));
        assertEquals(0, context.count("retriedRecords"));
    }

    @Test
    void successfulRequestCountsNoErrors() throws Exception {
        kinesis.answer(
                PutRecordsResponse.builder()
                        .failedRecordCount(0)
                        .records(ok(), ok(), ok())
                        .build());
        assertTrue(submit().completed);
        assertEquals(0, context.count("numRecordsOutErrors"));
        assertEquals(0, context.count("retriedRecords"));
    }

    @Test
    void sinkBuildRefusesAMalformedRoleSessionNameByKey() {
        Properties client = new Properties();
        client.setProperty("aws.region", "us-east-1");
        client.setProperty(
                "aws.credentials.provider.role.arn", "arn:aws:iam::123456789012:role/writer");
        client.setProperty("aws.credentials.provider.role.sessionName", "x");
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                KinesisStreamSink.<String>builder()
                                        .setStreamName("out")
                                        .setKinesisClientProperties(client)
                                        .setSerializationSchema(
                                                s -> s.getBytes(StandardCharsets.UTF_8))
                                        .build());
        assertTrue(
                error.getMessage()
                        .startsWith(
                                "KinesisStreamSink: client property"
                                        + " 'aws.credentials.provider.role.sessionName' must be"),
                error.getMessage());
    }

    /** Answers PutRecords calls with the queued results, in order. */
    private static final class FakeKinesis implements KinesisAsyncClient {
        final List<PutRecordsRequest> requests = new ArrayList<>();
        private final List<CompletableFuture<PutRecordsResponse>> answers = new ArrayList<>();

        void answer(PutRecordsResponse response) {
            answers.add(CompletableFuture.completedFuture(response));
        }

        void fail(Throwable error) {
            CompletableFuture<PutRecordsResponse> failed = new CompletableFuture<>();
            failed.completeExceptionally(error);
            answers.add(failed);
        }

        @Override
        public CompletableFuture<PutRecordsResponse> putRecords(PutRecordsRequest request) {
            requests.add(request);
            return answers.remove(0);
        }

        @Override
        public String serviceName() {
            return "kinesis";
        }

        @Override
        public void close() {}
    }
}
