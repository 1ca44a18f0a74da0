package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsClientFactory;
import dev.streamscoring.connectors.aws.SinkSettings;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.AsyncSinkBase;
import org.apache.flink.connector.base.sink.AsyncSinkBaseBuilder;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;

import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;

/**
 * Flink sink writing elements to a Kinesis data stream with PutRecords, at least once: buffered
 * records are flushed on every checkpoint and kept in writer state until acknowledged. Records that
 * fail inside a successful call (throttling, internal failures) are retried individually; a call
 * failing with a non-retryable error (stream not found, access denied, invalid request) fails the
 * job.
 *
 * <pre>{@code
 * Properties props = new Properties();
 * props.setProperty("aws.region", "us-east-1");
 * KinesisStreamSink<String> sink = KinesisStreamSink.<String>builder()
 *     .setStreamArn("arn:aws:kinesis:us-east-1:123456789012:stream/out")
 *     .setKinesisClientProperties(props)
 *     .setSerializationSchema(new SimpleStringSchema())
 *     .setPartitionKeyFields("vendor_id")
 *     .build();
 * }</pre>
 *
 * <p>Client properties: {@code aws.region} (required), {@code aws.endpoint} (optional endpoint
 * URL) and the credential keys of {@link dev.streamscoring.connectors.aws.AwsCredentialSettings}.
 * The partition key is made of the record's key fields when they are set (see {@link
 * PartitionKeys}), so that one key's records share a shard, else the hex MD5 of the serialized
 * record. Shard order is arrival order, but a record retried after a partial failure, or sent
 * while other requests are in flight, may overtake or trail records of its key. Batching defaults
 * follow the PutRecords limits: 500 records, 5 MiB per call, 1 MiB per record (data plus partition
 * key).
 */
public final class KinesisStreamSink<T> extends AsyncSinkBase<T, PutRecordsRequestEntry> {

    private static final long serialVersionUID = 1L;

    static final int MAX_BATCH_SIZE = 500;
    static final long MAX_BATCH_SIZE_IN_BYTES = 5L * 1024 * 1024;
    static final long MAX_RECORD_SIZE_IN_BYTES = 1024L * 1024;

    private final SinkSettings settings;
    private final String streamName;
    private final String streamArn;
    private final Properties kinesisClientProperties;

    private KinesisStreamSink(
            KinesisStreamElementConverter<T> elementConverter,
            SinkSettings settings,
            String streamName,
            String streamArn,
            Properties kinesisClientProperties) {
        super(
                elementConverter,
                settings.maxBatchSize,
                settings.maxInFlightRequests,
                settings.maxBufferedRequests,
                settings.maxBatchSizeInBytes,
                settings.maxTimeInBufferMS,
                settings.maxRecordSizeInBytes);
        this.settings = settings;
        this.streamName = streamName;
        this.streamArn = streamArn;
        this.kinesisClientProperties = kinesisClientProperties;
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    @Override
    public StatefulSinkWriter<T, BufferedRequestState<PutRecordsRequestEntry>> createWriter(
            WriterInitContext context) {
        return restoreWriter(context, Collections.emptyList());
    }

    @Override
    public StatefulSinkWriter<T, BufferedRequestState<PutRecordsRequestEntry>> restoreWriter(
            WriterInitContext context,
            Collection<BufferedRequestState<PutRecordsRequestEntry>> recoveredState) {
        return new KinesisStreamSinkWriter<>(
                getElementConverter(),
                context,
                settings.writerConfiguration(),
                recoveredState,
                streamName,
                streamArn,
                kinesisClientProperties);
    }

    @Override
    public SimpleVersionedSerializer<BufferedRequestState<PutRecordsRequestEntry>>
            getWriterStateSerializer() {
        return new KinesisStreamSinkStateSerializer();
    }

    /**
     * Builder of {@link KinesisStreamSink}. Exactly one of stream name and stream ARN, the client
     * properties and the serialization schema are required; the batching setters inherited from
     * {@link AsyncSinkBaseBuilder} are optional and may not exceed the PutRecords limits.
     */
    public static final class Builder<T>
            extends AsyncSinkBaseBuilder<T, PutRecordsRequestEntry, Builder<T>> {

        private String streamName;
        private String streamArn;
        private Properties kinesisClientProperties;
        private SerializationSchema<T> serializationSchema;
        private String[] partitionKeyFields = new String[0];

        private Builder() {}

        public Builder<T> setStreamName(String streamName) {
            this.streamName = streamName;
            return this;
        }

        public Builder<T> setStreamArn(String streamArn) {
            this.streamArn = streamArn;
            return this;
        }

        /**
         * Client properties: {@code aws.region} (required), {@code aws.endpoint} (optional) and
         * the optional credential keys of {@link
         * dev.streamscoring.connectors.aws.AwsCredentialSettings}.
         */
        public Builder<T> setKinesisClientProperties(Properties kinesisClientProperties) {
            this.kinesisClientProperties = kinesisClientProperties;
            return this;
        }

        public Builder<T> setSerializationSchema(SerializationSchema<T> serializationSchema) {
            this.serializationSchema = serializationSchema;
            return this;
        }

        /**
         * Top-level fields of the serialized JSON records whose values, joined by {@code '|'},
         * make the partition key; none (the default) keys records by the MD5 of their payload.
         */
        public Builder<T> setPartitionKeyFields(String... fields) {
            this.partitionKeyFields = fields == null ? new String[0] : fields.clone();
            return this;
        }

        @Override
        public KinesisStreamSink<T> build() {
            boolean hasName = streamName != null && !streamName.isEmpty();
            boolean hasArn = streamArn != null && !streamArn.isEmpty();
            if (hasName == hasArn) {
                throw new IllegalArgumentException(
                        "KinesisStreamSink: set exactly one of stream name and stream ARN");
            }
            if (serializationSchema == null) {
                throw new IllegalArgumentException(
                        "KinesisStreamSink: a serialization schema must be set");
            }
            Set<String> distinctFields = new HashSet<>();
            for (String field : partitionKeyFields) {
                if (field == null || field.isEmpty() || !distinctFields.add(field)) {
                    throw new IllegalArgumentException(
                            "KinesisStreamSink: partition key fields must be distinct non-empty"
                                    + " names, got "
                                    + Arrays.toString(partitionKeyFields));
                }
            }
            SinkSettings settings =
                    SinkSettings.resolve(
                            "KinesisStreamSink",
                            getMaxBatchSize(),
                            getMaxInFlightRequests(),
                            getMaxBufferedRequests(),
                            getMaxBatchSizeInBytes(),
                            getMaxTimeInBufferMS(),
                            getMaxRecordSizeInBytes(),
                            MAX_BATCH_SIZE,
                            MAX_BATCH_SIZE_IN_BYTES,
                            MAX_RECORD_SIZE_IN_BYTES);
            return new KinesisStreamSink<>(
                    new KinesisStreamElementConverter<>(
                            serializationSchema, new PartitionKeys(partitionKeyFields)),
                    settings,
                    // PutRecords names the stream as well as its ARN: Kinesis takes both, the ARN
                    // reaches another account's stream, and kinesalite reads only the name.
                    hasArn ? StreamArn.parse(streamArn).streamName() : streamName,
                    hasArn ? streamArn : null,
                    AwsClientFactory.checkedCopy(kinesisClientProperties, "KinesisStreamSink"));
        }
    }
}
