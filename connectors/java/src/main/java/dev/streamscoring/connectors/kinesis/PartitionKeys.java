package dev.streamscoring.connectors.kinesis;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * Chooses the Kinesis partition key of a delivery record. With key fields, the key is the values
 * of those top-level fields of the JSON record joined by {@code '|'} (a missing or null field
 * counts as empty), so all windows of one key go to the same shard; without key fields, or for a
 * record that is not a JSON object, it is the hex MD5 of the payload, which spreads records evenly.
 *
 * <p>A key longer than Kinesis' 256-character limit keeps its first 223 characters followed by
 * {@code '#'} and the hex MD5 of the whole key, so distinct long keys stay distinct. A key that
 * comes out empty, which Kinesis refuses, becomes {@value #EMPTY_KEY}.
 */
final class PartitionKeys implements Serializable {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(PartitionKeys.class);

    static final int MAX_LENGTH = 256;
    static final String EMPTY_KEY = "-";
    static final char SEPARATOR = '|';

    private static final int HASH_LENGTH = 32;
    private static final int KEPT_PREFIX_LENGTH = MAX_LENGTH - 1 - HASH_LENGTH;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final String[] fields;

    private transient ObjectMapper json;
    private transient MessageDigest md5;
    private transient boolean warnedNotJson;

    /** {@code fields} empty: the MD5 of the payload. */
    PartitionKeys(String... fields) {
        this.fields = fields.clone();
    }

    String keyOf(byte[] payload) {
        if (fields.length == 0) {
            return md5Hex(payload);
        }
        String[] values;
        try {
            values = fieldValues(payload);
        } catch (IOException e) {
            values = null;
        }
        if (values == null) {
            if (!warnedNotJson) {
                warnedNotJson = true;
                LOG.warn(
                        "A delivery record is not a JSON object; records like it are keyed by the"
                                + " MD5 of their payload instead of the fields {}",
                        Arrays.toString(fields));
            }
            return md5Hex(payload);
        }
        return fit(String.join(String.valueOf(SEPARATOR), values));
    }

    /** The values of the key fields, "" for missing ones; null if the payload is no JSON object. */
    private String[] fieldValues(byte[] payload) throws IOException {
        if (json == null) {
            json = new ObjectMapper();
        }
        String[] values = new String[fields.length];
        int found = 0;
        try (JsonParser parser = json.createParser(payload)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (found < fields.length && parser.nextToken() == JsonToken.FIELD_NAME) {
                int index = indexOf(parser.currentName());
                JsonToken token = parser.nextToken();
                if (token == null) {
                    return null;
                }
                if (index >= 0 && values[index] == null) {
                    values[index] = text(parser, token);
                    found++;
                } else {
                    parser.skipChildren();
                }
            }
        }
        for (int i = 0; i < values.length; i++) {
            if (values[i] == null) {
                values[i] = "";
            }
        }
        return values;
    }

    private String text(JsonParser parser, JsonToken token) throws IOException {
        switch (token) {
            case VALUE_NULL:
                return "";
            case START_OBJECT:
            case START_ARRAY:
                return json.readTree(parser).toString();
            default:
                // Strings unquoted, numbers and booleans as written in the record.
                return parser.getText();
        }
    }

    private int indexOf(String name) {
        for (int i = 0; i < fields.length; i++) {
            if (fields[i].equals(name)) {
                return i;
            }
        }
        return -1;
    }

    private String fit(String key) {
        if (key.isEmpty()) {
            return EMPTY_KEY;
        }
        if (key.length() <= MAX_LENGTH) {
            return key;
        }
        int end = KEPT_PREFIX_LENGTH;
        if (Character.isHighSurrogate(key.charAt(end - 1))) {
            end--;
        }
        return key.substring(0, end) + '#' + md5Hex(key.getBytes(StandardCharsets.UTF_8));
    }

    private String md5Hex(byte[] data) {
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
