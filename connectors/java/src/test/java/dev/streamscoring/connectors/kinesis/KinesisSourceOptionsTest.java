package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.configuration.Configuration;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KinesisSourceOptionsTest {

    private static final String ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/in";

    private static Configuration config(String... keyValues) {
        Configuration config = new Configuration();
        config.setString("aws.region", "us-east-1");
        for (int i = 0; i < keyValues.length; i += 2) {
            config.setString(keyValues[i], keyValues[i + 1]);
        }
        return config;
    }

    private static KinesisStreamSource.Builder<String> builder(Configuration config) {
        return builder(ARN, config);
    }

    private static KinesisStreamSource.Builder<String> builder(String arn, Configuration config) {
        return KinesisStreamSource.<String>builder()
                .setStreamArn(arn)
                .setSourceConfig(config)
                .setDeserializationSchema(new SimpleStringSchema());
    }

    @Test
    void efoIsRejectedAtBuild() {
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> builder(config("source.reader.type", "EFO")).build());
        assertTrue(e.getMessage().contains("not supported"), e.getMessage());
    }

    @Test
    void regionComesFromTheArnWhenNotSet() {
        builder(new Configuration()).build();
        assertEquals("us-east-1", KinesisSourceOptions.region(new Configuration(), ARN));
        assertEquals(
                "eu-west-1", KinesisSourceOptions.region(config("aws.region", "eu-west-1"), ARN));
        assertThrows(
                IllegalArgumentException.class,
                () ->
                        builder("arn:aws:kinesis::000000000000:stream/in", new Configuration())
                                .build());
        assertThrows(
                IllegalArgumentException.class,
                () -> builder("arn:aws:s3:::bucket", config()).build());
    }

    @Test
    void defaultsAreTheOfficialConnectorDefaults() {
        Configuration config = config();
        builder(config).build();
        assertEquals(StartingPosition.latest(), KinesisSourceOptions.initialPosition(config));
        assertEquals(
                Duration.ofSeconds(10), config.get(KinesisSourceOptions.SHARD_DISCOVERY_INTERVAL));
        assertEquals(10_000, config.get(KinesisSourceOptions.SHARD_GET_RECORDS_MAX));
        assertEquals(
                Duration.ofMillis(250),
                config.get(KinesisSourceOptions.READER_EMPTY_RECORDS_FETCH_INTERVAL));
        assertEquals(
                "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                config.get(KinesisSourceOptions.STREAM_TIMESTAMP_DATE_FORMAT));
    }

    @Test
    void officialKeysAreRead() {
        Configuration config =
                config(
                        "source.shard.discovery.interval", "30 s",
                        "source.shard.get-records.max-record-count", "500",
                        "source.reader.empty-records-fetch-interval", "1 s");
        builder(config).build();
        assertEquals(
                Duration.ofSeconds(30), config.get(KinesisSourceOptions.SHARD_DISCOVERY_INTERVAL));
        assertEquals(500, config.get(KinesisSourceOptions.SHARD_GET_RECORDS_MAX));
        assertEquals(
                Duration.ofSeconds(1),
                config.get(KinesisSourceOptions.READER_EMPTY_RECORDS_FETCH_INTERVAL));
        assertThrows(
                IllegalArgumentException.class,
                () ->
                        builder(config("source.shard.get-records.max-record-count", "10001"))
                                .build());
        assertThrows(
                IllegalArgumentException.class,
                () -> builder(config("source.shard.discovery.interval", "0 ms")).build());
    }

    @Test
    void unknownSourceKeysAreRefusedByName() {
        for (String oldKey :
                new String[] {
                    "source.shard.discovery.interval.ms",
                    "source.polling.max.records",
                    "source.polling.interval.ms"
                }) {
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> builder(config(oldKey, "100")).build());
            assertEquals(
                    "Unknown source option '"
                            + oldKey
                            + "'; known source options: [source.init.position,"
                            + " source.init.timestamp, source.init.timestamp.format,"
                            + " source.reader.empty-records-fetch-interval, source.reader.type,"
                            + " source.shard.discovery.interval,"
                            + " source.shard.get-records.max-record-count]",
                    e.getMessage());
        }
        // Keys outside source.* belong to other parts of the configuration.
        builder(config("aws.credentials.provider.role.arn", "arn:aws:iam::000000000000:role/r"))
                .build();
    }

    @Test
    void atTimestampAcceptsIsoEpochSecondsAndTheConfiguredFormat() {
        Instant expected = Instant.parse("2024-01-31T12:00:00Z");
        for (String value :
                new String[] {
                    "2024-01-31T12:00:00Z",
                    "2024-01-31T12:00:00",
                    "2024-01-31T12:00:00.000+00:00",
                    "2024-01-31T14:00:00.000+02:00",
                    "1706702400"
                }) {
            Configuration config =
                    config("source.init.position", "AT_TIMESTAMP", "source.init.timestamp", value);
            builder(config).build();
            assertEquals(
                    StartingPosition.atTimestamp(expected),
                    KinesisSourceOptions.initialPosition(config),
                    value);
        }
        Configuration custom =
                config(
                        "source.init.position", "AT_TIMESTAMP",
                        "source.init.timestamp", "31/01/2024 12:00",
                        "source.init.timestamp.format", "dd/MM/yyyy HH:mm");
        builder(custom).build();
        assertEquals(
                StartingPosition.atTimestamp(expected),
                KinesisSourceOptions.initialPosition(custom));
        assertThrows(
                IllegalArgumentException.class,
                () -> builder(config("source.init.position", "AT_TIMESTAMP")).build());
        assertThrows(
                IllegalArgumentException.class,
                () ->
                        builder(
                                        config(
                                                "source.init.position", "AT_TIMESTAMP",
                                                "source.init.timestamp", "yesterday"))
                                .build());
    }
}
