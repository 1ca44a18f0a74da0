package dev.streamscoring.connectors.kinesis;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** Builds KPL aggregated records byte by byte for tests, independently of the reader. */
final class KplAggregates {

    static final byte[] MAGIC = {(byte) 0xF3, (byte) 0x89, (byte) 0x9A, (byte) 0xC2};

    private final ByteArrayOutputStream protobuf = new ByteArrayOutputStream();

    /** Field 1: an entry of the partition key table. */
    KplAggregates partitionKey(String key) {
        return lengthDelimited(protobuf, 1, key.getBytes(StandardCharsets.UTF_8));
    }

    /** Field 2: an entry of the explicit hash key table (ignored by the reader). */
    KplAggregates explicitHashKey(String key) {
        return lengthDelimited(protobuf, 2, key.getBytes(StandardCharsets.UTF_8));
    }

    /** Field 3: a user record with a tag (field 4) the reader must skip. */
    KplAggregates record(long partitionKeyIndex, String data) {
        ByteArrayOutputStream record = new ByteArrayOutputStream();
        tag(record, 1, 0);
        varint(record, partitionKeyIndex);
        tag(record, 2, 0);
        varint(record, 0);
        lengthDelimited(record, 3, data.getBytes(StandardCharsets.UTF_8));
        ByteArrayOutputStream tagMessage = new ByteArrayOutputStream();
        lengthDelimited(tagMessage, 1, "k".getBytes(StandardCharsets.UTF_8));
        lengthDelimited(record, 4, tagMessage.toByteArray());
        return lengthDelimited(protobuf, 3, record.toByteArray());
    }

    /** An unknown fixed64 and fixed32 field, as a newer producer might add. */
    KplAggregates unknownFixedFields() {
        tag(protobuf, 9, 1);
        protobuf.write(new byte[8], 0, 8);
        tag(protobuf, 10, 5);
        protobuf.write(new byte[4], 0, 4);
        return this;
    }

    byte[] protobufBytes() {
        return protobuf.toByteArray();
    }

    /** Magic, protobuf, MD5 of the protobuf. */
    byte[] build() {
        return frame(protobufBytes());
    }

    static byte[] frame(byte[] protobufBytes) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(MAGIC);
            out.write(protobufBytes);
            out.write(MessageDigest.getInstance("MD5").digest(protobufBytes));
            return out.toByteArray();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private KplAggregates lengthDelimited(ByteArrayOutputStream out, int field, byte[] value) {
        tag(out, field, 2);
        varint(out, value.length);
        out.write(value, 0, value.length);
        return this;
    }

    private static void tag(ByteArrayOutputStream out, int field, int wireType) {
        varint(out, ((long) field << 3) | wireType);
    }

    private static void varint(ByteArrayOutputStream out, long value) {
        while ((value & ~0x7FL) != 0) {
            out.write((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        out.write((int) value);
    }
}
