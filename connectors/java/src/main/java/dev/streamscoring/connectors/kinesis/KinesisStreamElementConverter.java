package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.ElementConverter;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;

/**
 * Serializes an element into a PutRecords entry whose partition key {@link PartitionKeys} chooses
 * from the serialized record.
 */
final class KinesisStreamElementConverter<T>
        implements ElementConverter<T, PutRecordsRequestEntry> {

    private static final long serialVersionUID = 1L;

    private final SerializationSchema<T> serializationSchema;
    private final PartitionKeys partitionKeys;

    /** Keys records by the MD5 of their payload. */
    KinesisStreamElementConverter(SerializationSchema<T> serializationSchema) {
        this(serializationSchema, new PartitionKeys());
    }

    KinesisStreamElementConverter(
            SerializationSchema<T> serializationSchema, PartitionKeys partitionKeys) {
        this.serializationSchema = serializationSchema;
        this.partitionKeys = partitionKeys;
    }

    @Override
    public void open(WriterInitContext context) {
        try {
            serializationSchema.open(context.asSerializationSchemaInitializationContext());
        } catch (Exception e) {
            throw new IllegalStateException("Could not open the serialization schema", e);
        }
    }

    @Override
    public PutRecordsRequestEntry apply(T element, SinkWriter.Context context) {
        byte[] data = serializationSchema.serialize(element);
        return PutRecordsRequestEntry.builder()
                .data(SdkBytes.fromByteArrayUnsafe(data))
                .partitionKey(partitionKey(data))
                .build();
    }

    String partitionKey(byte[] data) {
        return partitionKeys.keyOf(data);
    }
}
