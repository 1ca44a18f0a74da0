package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.configuration.Configuration;

import org.junit.jupiter.api.Test;

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
        return KinesisStreamSource.<String>builder()
                .setStreamArn(ARN)
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
    void regionIsRequired() {
        assertThrows(IllegalArgumentException.class, () -> builder(new Configuration()).build());
    }

    @Test
    void defaultsToLatest() {
        builder(config()).build();
        assertEquals(StartingPosition.latest(), KinesisSourceOptions.initialPosition(config()));
    }

    @Test
    void atTimestampAcceptsIsoAndEpochSeconds() {
        Instant expected = Instant.parse("2024-01-31T12:00:00Z");
        for (String value :
                new String[] {"2024-01-31T12:00:00Z", "2024-01-31T12:00:00", "1706702400"}) {
            Configuration config =
                    config("source.init.position", "AT_TIMESTAMP", "source.init.timestamp", value);
            builder(config).build();
            assertEquals(
                    StartingPosition.atTimestamp(expected),
                    KinesisSourceOptions.initialPosition(config));
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> builder(config("source.init.position", "AT_TIMESTAMP")).build());
    }
}
