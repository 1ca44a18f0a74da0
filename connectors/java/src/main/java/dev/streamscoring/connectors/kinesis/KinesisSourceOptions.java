package dev.streamscoring.connectors.kinesis;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;

import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.time.temporal.TemporalAccessor;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Configuration keys of {@link KinesisStreamSource}. The key names and defaults follow the official
 * Flink AWS connector so that a job configuration can be moved to it unchanged.
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
                    .withDescription(
                            "AWS region of the stream, e.g. us-east-1; taken from the stream ARN"
                                    + " when not set.");

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
                            "Start time for AT_TIMESTAMP: epoch seconds, a date-time in"
                                    + " 'source.init.timestamp.format', or ISO-8601 (UTC if no"
                                    + " offset).");

    public static final ConfigOption<String> STREAM_TIMESTAMP_DATE_FORMAT =
            ConfigOptions.key("source.init.timestamp.format")
                    .stringType()
                    .defaultValue("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
                    .withDescription("Date-time pattern of 'source.init.timestamp'.");

    public static final ConfigOption<Duration> SHARD_DISCOVERY_INTERVAL =
            ConfigOptions.key("source.shard.discovery.interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription("Interval between shard discoveries.");

    public static final ConfigOption<Integer> SHARD_GET_RECORDS_MAX =
            ConfigOptions.key("source.shard.get-records.max-record-count")
                    .intType()
                    .defaultValue(10_000)
                    .withDescription("Maximum records per GetRecords call (1..10000).");

    public static final ConfigOption<ReaderType> READER_TYPE =
            ConfigOptions.key("source.reader.type")
                    .enumType(ReaderType.class)
                    .defaultValue(ReaderType.POLLING)
                    .withDescription("Consumption mode; only POLLING is supported.");

    public static final ConfigOption<Duration> READER_EMPTY_RECORDS_FETCH_INTERVAL =
            ConfigOptions.key("source.reader.empty-records-fetch-interval")
                    .durationType()
                    .defaultValue(Duration.ofMillis(250))
                    .withDescription(
                            "Pause before polling a shard again after a GetRecords that found it"
                                    + " caught up.");

    private static final List<ConfigOption<?>> SOURCE_OPTIONS =
            Collections.unmodifiableList(
                    Arrays.asList(
                            STREAM_INITIAL_POSITION,
                            STREAM_INITIAL_TIMESTAMP,
                            STREAM_TIMESTAMP_DATE_FORMAT,
                            SHARD_DISCOVERY_INTERVAL,
                            SHARD_GET_RECORDS_MAX,
                            READER_TYPE,
                            READER_EMPTY_RECORDS_FETCH_INTERVAL));

    private KinesisSourceOptions() {}

    /**
     * Checks a source configuration and fails with an {@link IllegalArgumentException} that names
     * the offending key.
     */
    static void validate(Configuration config) {
        rejectUnknownSourceKeys(config);
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
        int maxRecords = config.get(SHARD_GET_RECORDS_MAX);
        if (maxRecords < 1 || maxRecords > 10_000) {
            throw new IllegalArgumentException(
                    "'" + SHARD_GET_RECORDS_MAX.key() + "' must be in 1..10000, got " + maxRecords);
        }
        if (config.get(READER_EMPTY_RECORDS_FETCH_INTERVAL).isNegative()) {
            throw new IllegalArgumentException(
                    "'" + READER_EMPTY_RECORDS_FETCH_INTERVAL.key() + "' must be >= 0");
        }
        Duration discoveryInterval = config.get(SHARD_DISCOVERY_INTERVAL);
        if (discoveryInterval.isNegative() || discoveryInterval.toMillis() == 0) {
            throw new IllegalArgumentException(
                    "'" + SHARD_DISCOVERY_INTERVAL.key() + "' must be at least 1 ms");
        }
    }

    /** A misspelt or outdated key would otherwise be ignored silently. */
    private static void rejectUnknownSourceKeys(Configuration config) {
        Set<String> known =
                SOURCE_OPTIONS.stream()
                        .map(ConfigOption::key)
                        .collect(Collectors.toCollection(TreeSet::new));
        for (String key : new TreeSet<>(config.keySet())) {
            if (key.startsWith("source.") && !known.contains(key)) {
                throw new IllegalArgumentException(
                        "Unknown source option '" + key + "'; known source options: " + known);
            }
        }
    }

    /**
     * The stream's region: {@link #AWS_REGION} if set, else the region in the stream ARN.
     *
     * @throws IllegalArgumentException if the ARN is not a stream ARN, or neither gives a region
     */
    static String region(Configuration config, String streamArn) {
        String fromArn = StreamArn.parse(streamArn).region();
        String region = config.get(AWS_REGION);
        if (region != null && !region.trim().isEmpty()) {
            return region.trim();
        }
        if (fromArn.isEmpty()) {
            throw new IllegalArgumentException(
                    "'"
                            + AWS_REGION.key()
                            + "' must be set: the stream ARN has no region: "
                            + streamArn);
        }
        return fromArn;
    }

    /**
     * The configured position for shards present at the first start. LATEST is returned as is: the
     * enumerator fixes it to the time of its first discovery.
     */
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

    /**
     * Parses {@link #STREAM_INITIAL_TIMESTAMP} as (fractional) epoch seconds, in the configured
     * {@link #STREAM_TIMESTAMP_DATE_FORMAT}, or as ISO-8601.
     */
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
            // fall through to the date-time forms
        }
        Instant formatted = parseWithFormat(text, config.get(STREAM_TIMESTAMP_DATE_FORMAT));
        if (formatted != null) {
            return formatted;
        }
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
                            + "' is neither epoch seconds, nor in the format '"
                            + config.get(STREAM_TIMESTAMP_DATE_FORMAT)
                            + "', nor ISO-8601: "
                            + value,
                    notIso);
        }
    }

    /** The instant in {@code pattern} (UTC if it has no offset), or null if it does not match. */
    private static Instant parseWithFormat(String text, String pattern) {
        DateTimeFormatter formatter;
        try {
            formatter = DateTimeFormatter.ofPattern(pattern);
        } catch (IllegalArgumentException badPattern) {
            throw new IllegalArgumentException(
                    "'"
                            + STREAM_TIMESTAMP_DATE_FORMAT.key()
                            + "' is not a date-time pattern: "
                            + pattern,
                    badPattern);
        }
        try {
            TemporalAccessor parsed = formatter.parse(text);
            LocalDateTime local = LocalDateTime.from(parsed);
            ZoneOffset offset =
                    parsed.isSupported(ChronoField.OFFSET_SECONDS)
                            ? ZoneOffset.from(parsed)
                            : ZoneOffset.UTC;
            return local.toInstant(offset);
        } catch (DateTimeException noMatch) {
            return null;
        }
    }
}
