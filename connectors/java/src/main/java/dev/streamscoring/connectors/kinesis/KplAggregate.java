package dev.streamscoring.connectors.kinesis;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The user records inside a Kinesis record written by the Kinesis Producer Library's aggregation:
 * four magic bytes, a protobuf {@code AggregatedRecord}, then the MD5 of the protobuf bytes.
 *
 * <p>Only the fields the source needs are read (partition key table, and each user record's
 * partition key index and data); the wire format is parsed by hand so that the connector jar does
 * not carry a protobuf runtime.
 */
final class KplAggregate {

    private static final byte[] MAGIC = {(byte) 0xF3, (byte) 0x89, (byte) 0x9A, (byte) 0xC2};
    private static final int DIGEST_LENGTH = 16;

    private static final int WIRE_VARINT = 0;
    private static final int WIRE_FIXED64 = 1;
    private static final int WIRE_LENGTH_DELIMITED = 2;
    private static final int WIRE_FIXED32 = 5;

    /** One user record of an aggregate; its sub-sequence number is its index in the list. */
    static final class UserRecord {
        final String partitionKey;
        final byte[] data;

        UserRecord(String partitionKey, byte[] data) {
            this.partitionKey = partitionKey;
            this.data = data;
        }
    }

    /** A record carrying the magic bytes that cannot be read as an aggregate. */
    static final class CorruptAggregateException extends Exception {
        private static final long serialVersionUID = 1L;

        CorruptAggregateException(String reason) {
            super(reason);
        }
    }

    private KplAggregate() {}

    /** Whether the record starts with the aggregation magic bytes (and could hold a digest). */
    static boolean isAggregate(byte[] record) {
        if (record.length < MAGIC.length) {
            return false;
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (record[i] != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * The user records of an aggregated record, in order.
     *
     * @throws CorruptAggregateException with a short reason when the digest does not match or
     *     the protobuf cannot be read
     */
    static List<UserRecord> userRecords(byte[] record) throws CorruptAggregateException {
        int start = MAGIC.length;
        int end = record.length - DIGEST_LENGTH;
        if (end < start) {
            throw new CorruptAggregateException("too short for a digest");
        }
        if (!digestMatches(record, start, end)) {
            throw new CorruptAggregateException("checksum mismatch");
        }
        return parse(new WireReader(record, start, end));
    }

    private static boolean digestMatches(byte[] record, int start, int end) {
        MessageDigest md5;
        try {
            md5 = MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is required of every Java platform", e);
        }
        md5.update(record, start, end - start);
        byte[] expected = md5.digest();
        return Arrays.equals(expected, 0, DIGEST_LENGTH, record, end, end + DIGEST_LENGTH);
    }

    private static List<UserRecord> parse(WireReader in) throws CorruptAggregateException {
        // The partition key table may follow the records on the wire: resolve keys at the end.
        List<String> partitionKeys = new ArrayList<>();
        List<KeyedData> keyedData = new ArrayList<>();
        while (in.hasMore()) {
            long tag = in.varint();
            int field = (int) (tag >>> 3);
            int wireType = (int) (tag & 7);
            if (field == 1 && wireType == WIRE_LENGTH_DELIMITED) {
                partitionKeys.add(in.string());
            } else if (field == 3 && wireType == WIRE_LENGTH_DELIMITED) {
                keyedData.add(parseRecord(in.slice(in.length())));
            } else {
                in.skip(wireType);
            }
        }
        List<UserRecord> records = new ArrayList<>(keyedData.size());
        for (KeyedData record : keyedData) {
            if (record.keyIndex < 0 || record.keyIndex >= partitionKeys.size()) {
                throw new CorruptAggregateException(
                        "partition key index " + record.keyIndex + " out of range");
            }
            records.add(
                    new UserRecord(partitionKeys.get((int) record.keyIndex), record.data));
        }
        return records;
    }

    private static KeyedData parseRecord(WireReader in) throws CorruptAggregateException {
        long keyIndex = 0;
        boolean hasKeyIndex = false;
        byte[] data = null;
        while (in.hasMore()) {
            long tag = in.varint();
            int field = (int) (tag >>> 3);
            int wireType = (int) (tag & 7);
            if (field == 1 && wireType == WIRE_VARINT) {
                keyIndex = in.varint();
                hasKeyIndex = true;
            } else if (field == 3 && wireType == WIRE_LENGTH_DELIMITED) {
                data = in.bytes();
            } else {
                in.skip(wireType);
            }
        }
        // Both are required fields of the KPL's Record message.
        if (!hasKeyIndex || data == null) {
            throw new CorruptAggregateException("user record without partition key index or data");
        }
        return new KeyedData(keyIndex, data);
    }

    private static final class KeyedData {
        final long keyIndex;
        final byte[] data;

        KeyedData(long keyIndex, byte[] data) {
            this.keyIndex = keyIndex;
            this.data = data;
        }
    }

    /** Reads protobuf wire-format values from a byte range; overruns raise exceptions. */
    private static final class WireReader {
        private final byte[] buffer;
        private int position;
        private final int end;

        WireReader(byte[] buffer, int start, int end) {
            this.buffer = buffer;
            this.position = start;
            this.end = end;
        }

        boolean hasMore() {
            return position < end;
        }

        long varint() throws CorruptAggregateException {
            long value = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte b = next();
                value |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return value;
                }
            }
            throw new CorruptAggregateException("malformed varint");
        }

        int length() throws CorruptAggregateException {
            long length = varint();
            if (length < 0 || length > end - position) {
                throw new CorruptAggregateException("length beyond the aggregate");
            }
            return (int) length;
        }

        byte[] bytes() throws CorruptAggregateException {
            int length = length();
            byte[] value = Arrays.copyOfRange(buffer, position, position + length);
            position += length;
            return value;
        }

        String string() throws CorruptAggregateException {
            int length = length();
            String value = new String(buffer, position, length, StandardCharsets.UTF_8);
            position += length;
            return value;
        }

        WireReader slice(int length) {
            WireReader slice = new WireReader(buffer, position, position + length);
            position += length;
            return slice;
        }

        void skip(int wireType) throws CorruptAggregateException {
            switch (wireType) {
                case WIRE_VARINT:
                    varint();
                    break;
                case WIRE_FIXED64:
                    advance(8);
                    break;
                case WIRE_LENGTH_DELIMITED:
                    advance(length());
                    break;
                case WIRE_FIXED32:
                    advance(4);
                    break;
                default:
                    // Groups (3, 4) are not used by the aggregation format.
                    throw new CorruptAggregateException("unsupported wire type " + wireType);
            }
        }

        private void advance(int count) throws CorruptAggregateException {
            if (count > end - position) {
                throw new CorruptAggregateException("field beyond the aggregate");
            }
            position += count;
        }

        private byte next() throws CorruptAggregateException {
            if (position >= end) {
                throw new CorruptAggregateException("truncated protobuf");
            }
            return buffer[position++];
        }
    }
}
