package dev.streamscoring.connectors.serialization;

import org.apache.flink.api.common.serialization.SerializationSchema;

import java.nio.charset.StandardCharsets;

/**
 * Serializes a string as UTF-8 followed by one newline.
 *
 * <p>Firehose concatenates the records of a batch without any delimiter, so each record of a
 * JSON-lines delivery stream has to carry its own line end.
 */
public final class NewlineTerminatedStringSchema implements SerializationSchema<String> {
    private static final long serialVersionUID = 1L;

    @Override
    public byte[] serialize(String element) {
        return (element + "\n").getBytes(StandardCharsets.UTF_8);
    }
}
