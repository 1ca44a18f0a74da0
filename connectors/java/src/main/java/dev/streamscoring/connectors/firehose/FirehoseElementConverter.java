package dev.streamscoring.connectors.firehose;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.ElementConverter;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.firehose.model.Record;

/** Serializes an element into a Firehose record. */
final class FirehoseElementConverter<T> implements ElementConverter<T, Record> {

    private static final long serialVersionUID = 1L;

    private final SerializationSchema<T> serializationSchema;

    FirehoseElementConverter(SerializationSchema<T> serializationSchema) {
        this.serializationSchema = serializationSchema;
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
    public Record apply(T element, SinkWriter.Context context) {
        return Record.builder()
                .data(SdkBytes.fromByteArrayUnsafe(serializationSchema.serialize(element)))
                .build();
    }
}
