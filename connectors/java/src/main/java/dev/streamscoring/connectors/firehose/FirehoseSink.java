package dev.streamscoring.connectors.firehose;

import dev.streamscoring.connectors.aws.AwsClientFactory;
import dev.streamscoring.connectors.aws.SinkSettings;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.AsyncSinkBase;
import org.apache.flink.connector.base.sink.AsyncSinkBaseBuilder;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import software.amazon.awssdk.services.firehose.model.Record;

import java.util.Collection;
import java.util.Collections;
import java.util.Properties;

/**
 * Flink sink writing elements to an Amazon Data Firehose delivery stream with PutRecordBatch, at
 * least once: buffered records are flushed on every checkpoint and kept in writer state until
 * acknowledged. Records rejected inside a successful call are retried individually; a call failing
 * with a non-retryable error (delivery stream not found, access denied, invalid request) fails the
 * job.
 *
 * <pre>{@code
 * Properties props = new Properties();
 * props.setProperty("aws.region", "us-east-1");
 * FirehoseSink<String> sink = FirehoseSink.<String>builder()
 *     .setDeliveryStreamName("scores-to-s3")
 *     .setFirehoseClientProperties(props)
 *     .setSerializationSchema(new SimpleStringSchema())
 *     .build();
 * }</pre>
 *
 * <p>Client properties: {@code aws.region} (required), {@code aws.endpoint} (optional endpoint
 * URL) and the credential keys of {@link dev.streamscoring.connectors.aws.AwsCredentialSettings}.
 * Records are sent as serialized, without added delimiters. Batching defaults follow the
 * PutRecordBatch limits: 500 records, 4 MiB per call, 1000 KiB per record.
 */
public final class FirehoseSink<T> extends AsyncSinkBase<T, Record> {

    private static final long serialVersionUID = 1L;

    static final int MAX_BATCH_SIZE = 500;
    static final long MAX_BATCH_SIZE_IN_BYTES = 4L * 1024 * 1024;
    static final long MAX_RECORD_SIZE_IN_BYTES = 1000L * 1024;

    private final SinkSettings settings;
    private final String deliveryStreamName;
    private final Properties firehoseClientProperties;

    private FirehoseSink(
            FirehoseElementConverter<T> elementConverter,
            SinkSettings settings,
            String deliveryStreamName,
            Properties firehoseClientProperties) {
        super(
                elementConverter,
                settings.maxBatchSize,
                settings.maxInFlightRequests,
                settings.maxBufferedRequests,
                settings.maxBatchSizeInBytes,
                settings.maxTimeInBufferMS,
                settings.maxRecordSizeInBytes);
        this.settings = settings;
        this.deliveryStreamName = deliveryStreamName;
        this.firehoseClientProperties = firehoseClientProperties;
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    @Override
    public StatefulSinkWriter<T, BufferedRequestState<Record>> createWriter(
            WriterInitContext context) {
        return restoreWriter(context, Collections.emptyList());
    }

    @Override
    public StatefulSinkWriter<T, BufferedRequestState<Record>> restoreWriter(
            WriterInitContext context, Collection<BufferedRequestState<Record>> recoveredState) {
        return new FirehoseSinkWriter<>(
                getElementConverter(),
                context,
                settings.writerConfiguration(),
                recoveredState,
                deliveryStreamName,
                firehoseClientProperties);
    }

    @Override
    public SimpleVersionedSerializer<BufferedRequestState<Record>> getWriterStateSerializer() {
        return new FirehoseSinkStateSerializer();
    }

    /**
     * Builder of {@link FirehoseSink}. Delivery stream name, client properties and serialization
     * schema are required; the batching setters inherited from {@link AsyncSinkBaseBuilder} are
     * optional and may not exceed the PutRecordBatch limits.
     */
    public static final class Builder<T> extends AsyncSinkBaseBuilder<T, Record, Builder<T>> {

        private String deliveryStreamName;
        private Properties firehoseClientProperties;
        private SerializationSchema<T> serializationSchema;

        private Builder() {}

        public Builder<T> setDeliveryStreamName(String deliveryStreamName) {
            this.deliveryStreamName = deliveryStreamName;
            return this;
        }

        /**
         * Client properties: {@code aws.region} (required), {@code aws.endpoint} (optional) and
         * the optional credential keys of {@link
         * dev.streamscoring.connectors.aws.AwsCredentialSettings}.
         */
        public Builder<T> setFirehoseClientProperties(Properties firehoseClientProperties) {
            this.firehoseClientProperties = firehoseClientProperties;
            return this;
        }

        public Builder<T> setSerializationSchema(SerializationSchema<T> serializationSchema) {
            this.serializationSchema = serializationSchema;
            return this;
        }

        @Override
        public FirehoseSink<T> build() {
            if (deliveryStreamName == null || deliveryStreamName.isEmpty()) {
                throw new IllegalArgumentException(
                        "FirehoseSink: a delivery stream name must be set");
            }
            if (serializationSchema == null) {
                throw new IllegalArgumentException(
                        "FirehoseSink: a serialization schema must be set");
            }
            SinkSettings settings =
                    SinkSettings.resolve(
                            "FirehoseSink",
                            getMaxBatchSize(),
                            getMaxInFlightRequests(),
                            getMaxBufferedRequests(),
                            getMaxBatchSizeInBytes(),
                            getMaxTimeInBufferMS(),
                            getMaxRecordSizeInBytes(),
                            MAX_BATCH_SIZE,
                            MAX_BATCH_SIZE_IN_BYTES,
                            MAX_RECORD_SIZE_IN_BYTES);
            return new FirehoseSink<>(
                    new FirehoseElementConverter<>(serializationSchema),
                    settings,
                    deliveryStreamName,
                    AwsClientFactory.checkedCopy(firehoseClientProperties, "FirehoseSink"));
        }
    }
}
