package dev.streamscoring.connectors.kinesis;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * Configuration keys of {@link KinesisStreamSource}. The key names follow the official Flink AWS
 * connector so that a job configuration can be moved to it unchanged.
 */
public final class KinesisSourceOptions {

    /** Where a reader starts in a shard that has no checkpointed position. */
    public enum InitialPosition {
        LATEST,
        TRIM_HORIZON,
        AT_TIMESTAMP
    }

    /** How records are consumed. Only {@link #POLLING} is implemented by this connector. */
    public enum ReaderType {
        POLLING,
        EFO
    }

    public static final ConfigOption<String> AWS_REGION =
            ConfigOptions.key("aws.region")
                    .stringType()
                    .noDefaultValue()
                    .withDescription("AWS region of the stream, e.g. us-east-1. Required.");

    public static final ConfigOption<String> AWS_ENDPOINT =
            ConfigOptions.key("aws.endpoint")
                    .stringType()
                    .noDefaultValue()
                    .withDescription("Optional endpoint URL overriding the regional endpoint.");

    public static final ConfigOption<InitialPosition> STREAM_INITIAL_POSITION =
            ConfigOptions.key("source.init.position")
                    .enumType(InitialPosition.class)
                    .defaultValue(InitialPosition.LATEST)
                    .withDescription("Start position in shards present when the job starts.");

    public static final ConfigOption<String> STREAM_INITIAL_TIMESTAMP =
            ConfigOptions.key("source.init.timestamp")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Start time for AT_TIMESTAMP: ISO-8601 (2024-01-31T12:00:00Z; UTC if no"
                                    + " offset) or epoch seconds.");

    public static final ConfigOption<Long> SHARD_DISCOVERY_INTERVAL_MS =
            ConfigOptions.key("source.shard.discovery.interval.ms")
                    .longType()
                    .defaultValue(10_000L)
                    .withDescription("Interval between shard discoveries.");

    public static final ConfigOption<ReaderType> READER_TYPE =
            ConfigOptions.key("source.reader.type")
                    .enumType(ReaderType.class)
                    .defaultValue(ReaderType.POLLING)
                    .withDescription("Consumption mode; only POLLING is supported.");

    public static final ConfigOption<Integer> POLLING_MAX_RECORDS =
            ConfigOptions.key("source.polling.max.records")
                    .intType()
                    .defaultValue(10_000)
                    .withDescription("Maximum records per GetRecords call (1..10000).");

    public static final ConfigOption<Long> POLLING_INTERVAL_MS =
            ConfigOptions.key("source.polling.interval.ms")
                    .longType()
                    .defaultValue(200L)
                    .withDescription(
                            "Pause before polling a shard again after an empty GetRecords.");

    private KinesisSourceOptions() {}

    /**
     * Checks a source configuration and fails with an {@link IllegalArgumentException} that names
     * the offending key.
     */
    static void validate(Configuration config) {
        String region = config.get(AWS_REGION);
        if (region == null || region.trim().isEmpty()) {
            throw new IllegalArgumentException("'" + AWS_REGION.key() + "' must be set");
        }
        if (config.get(READER_TYPE) != ReaderType.POLLING) {
            throw new IllegalArgumentException(
                    "'"
                            + READER_TYPE.key()
                            + "' = "
                            + config.get(READER_TYPE)
                            + " is not supported by this connector; use POLLING");
        }
        if (config.get(STREAM_INITIAL_POSITION) == InitialPosition.AT_TIMESTAMP) {
            initialTimestamp(config);
        }
        int maxRecords = config.get(POLLING_MAX_RECORDS);
        if (maxRecords < 1 || maxRecords > 10_000) {
            throw new IllegalArgumentException(
                    "'" + POLLING_MAX_RECORDS.key() + "' must be in 1..10000, got " + maxRecords);
        }
        if (config.get(POLLING_INTERVAL_MS) < 0) {
            throw new IllegalArgumentException("'" + POLLING_INTERVAL_MS.key() + "' must be >= 0");
        }
        if (config.get(SHARD_DISCOVERY_INTERVAL_MS) <= 0) {
            throw new IllegalArgumentException(
                    "'" + SHARD_DISCOVERY_INTERVAL_MS.key() + "' must be > 0");
        }
    }

    /** The position new shards start from at the first start of the job. */
    static StartingPosition initialPosition(Configuration config) {
        switch (config.get(STREAM_INITIAL_POSITION)) {
            case TRIM_HORIZON:
                return StartingPosition.trimHorizon();
            case AT_TIMESTAMP:
                return StartingPosition.atTimestamp(initialTimestamp(config));
            case LATEST:
            default:
                return StartingPosition.latest();
        }
    }

    /** Parses {@link #STREAM_INITIAL_TIMESTAMP} as ISO-8601 or (fractional) epoch seconds. */
    static Instant initialTimestamp(Configuration config) {
        String value = config.get(STREAM_INITIAL_TIMESTAMP);
        if (value == null || value.trim().isEmpty()) {
            throw new IllegalArgumentException(
                    "'"
                            + STREAM_INITIAL_TIMESTAMP.key()
                            + "' must be set when '"
                            + STREAM_INITIAL_POSITION.key()
                            + "' is AT_TIMESTAMP");
        }
        String text = value.trim();
        try {
            double seconds = Double.parseDouble(text);
            return Instant.ofEpochMilli(Math.round(seconds * 1000.0));
        } catch (NumberFormatException notANumber) {
            try {
                return OffsetDateTime.parse(text).toInstant();
            } catch (DateTimeParseException noOffset) {
                // fall through: a date-time without offset is taken as UTC
            }
            try {
                return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException notIso) {
                throw new IllegalArgumentException(
                        "'"
                                + STREAM_INITIAL_TIMESTAMP.key()
                                + "' is neither ISO-8601 nor epoch seconds: "
                                + value,
                        notIso);
            }
        }
    }
}
