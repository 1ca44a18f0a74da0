package dev.streamscoring.connectors.s3;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.functions.sink.filesystem.BucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.SimpleVersionedStringSerializer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * Puts each window record under {@code dt=YYYY-MM-DD/hour=HH} of its {@code window_start} (UTC),
 * so one hour of data is one prefix however late it arrived, and a replay rewrites the
 * partitions of the replayed day. A record without a readable window start falls back to the
 * processing time, so it still lands somewhere a person can find it.
 */
public final class WindowStartBucketAssigner implements BucketAssigner<String, String> {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(WindowStartBucketAssigner.class);

    static final String WINDOW_START = "window_start";
    private static final DateTimeFormatter PARTITION =
            DateTimeFormatter.ofPattern("'dt='yyyy-MM-dd'/hour='HH").withZone(ZoneOffset.UTC);

    private transient ObjectMapper json;
    private transient boolean warnedUnreadable;

    @Override
    public String getBucketId(String line, Context context) {
        Instant start = windowStart(line);
        if (start == null) {
            if (!warnedUnreadable) {
                warnedUnreadable = true;
                LOG.warn(
                        "A window record has no readable {}; records like it are partitioned by"
                                + " processing time",
                        WINDOW_START);
            }
            start = Instant.ofEpochMilli(context.currentProcessingTime());
        }
        return PARTITION.format(start);
    }

    private Instant windowStart(String line) {
        if (json == null) {
            json = new ObjectMapper();
        }
        try {
            JsonNode record = json.readTree(line);
            JsonNode value = record == null ? null : record.get(WINDOW_START);
            return value == null || !value.isTextual() ? null : Instant.parse(value.asText());
        } catch (IOException | DateTimeParseException e) {
            return null;
        }
    }

    @Override
    public SimpleVersionedSerializer<String> getSerializer() {
        return SimpleVersionedStringSerializer.INSTANCE;
    }

    @Override
    public String toString() {
        return "WindowStartBucketAssigner{" + WINDOW_START + ", UTC}";
    }
}
