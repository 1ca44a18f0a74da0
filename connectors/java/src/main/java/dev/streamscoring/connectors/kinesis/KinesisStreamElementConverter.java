package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.ElementConverter;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Serializes an element into a PutRecords entry whose partition key is the hex MD5 of the
 * serialized bytes: equal payloads always land on the same shard, distinct ones spread evenly.
 */
final class KinesisStreamElementConverter<T>
        implements ElementConverter<T, PutRecordsRequestEntry> {

    private static final long serialVersionUID = 1L;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final SerializationSchema<T> serializationSchema;
    private transient MessageDigest md5;

    KinesisStreamElementConverter(SerializationSchema<T> serializationSchema) {
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
    public PutRecordsRequestEntry apply(T element, SinkWriter.Context context) {
        byte[] data = serializationSchema.serialize(element);
        return PutRecordsRequestEntry.builder()
                .data(SdkBytes.fromByteArrayUnsafe(data))
                .partitionKey(partitionKey(data))
                .build();
    }

    /** Hex MD5 of the payload (32 characters, within Kinesis' 256-character key limit). */
    String partitionKey(byte[] data) {
        if (md5 == null) {
            try {
                md5 = MessageDigest.getInstance("MD5");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("MD5 is not available", e);
            }
        }
        byte[] digest = md5.digest(data);
        char[] hex = new char[digest.length * 2];
        for (int i = 0; i < digest.length; i++) {
            hex[2 * i] = HEX[(digest[i] >> 4) & 0xF];
            hex[2 * i + 1] = HEX[digest[i] & 0xF];
        }
        return new String(hex);
    }
}
