package dev.streamscoring.connectors.aws;

import software.amazon.awssdk.awscore.client.builder.AwsClientBuilder;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.firehose.FirehoseAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;

import java.net.URI;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Builds the AWS SDK clients used by the connectors from the connector settings {@code aws.region}
 * (required), {@code aws.endpoint} (optional endpoint URL override) and the credential keys of
 * {@link AwsCredentialSettings}: the SDK's default provider chain (environment, system properties,
 * web identity, profile, container and instance roles) unless a role to assume is set. A client
 * closes its credentials provider (and so the role's STS client) when it is closed.
 *
 * <p>Note: the Kinesis client talks CBOR by default; emulators that only speak JSON need the JVM
 * system property {@code aws.cborEnabled=false} or the environment variable {@code
 * CBOR_ENABLED=false}.
 */
public final class AwsClientFactory {

    public static final String AWS_REGION = "aws.region";
    public static final String AWS_ENDPOINT = "aws.endpoint";

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration SOCKET_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration ATTEMPT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(3);

    private AwsClientFactory() {}

    /**
     * A synchronous Kinesis client for the source (enumerator and polling readers), signing with
     * the default credentials chain.
     */
    public static KinesisClient createKinesisClient(String region, String endpoint) {
        Map<String, String> settings = new HashMap<>();
        settings.put(AWS_REGION, region);
        if (endpoint != null) {
            settings.put(AWS_ENDPOINT, endpoint);
        }
        return createKinesisClient(settings);
    }

    /**
     * A synchronous Kinesis client for the source from its settings: {@code aws.region}, {@code
     * aws.endpoint} and the credential keys; other keys are ignored.
     *
     * @throws IllegalArgumentException naming the key, when the settings are incomplete or
     *     malformed
     */
    public static KinesisClient createKinesisClient(Map<String, String> settings) {
        checkSettings(settings, "Kinesis client");
        return configure(KinesisClient.builder(), settings)
                .httpClientBuilder(
                        UrlConnectionHttpClient.builder()
                                .connectionTimeout(CONNECT_TIMEOUT)
                                .socketTimeout(SOCKET_TIMEOUT))
                .build();
    }

    /** An asynchronous Kinesis client for the Kinesis stream sink. */
    public static KinesisAsyncClient createKinesisAsyncClient(Properties properties) {
        return configure(KinesisAsyncClient.builder(), settingsOf(properties))
                .httpClientBuilder(asyncHttpClient())
                .build();
    }

    /** An asynchronous Firehose client for the Firehose sink. */
    public static FirehoseAsyncClient createFirehoseAsyncClient(Properties properties) {
        return configure(FirehoseAsyncClient.builder(), settingsOf(properties))
                .httpClientBuilder(asyncHttpClient())
                .build();
    }

    /**
     * Returns a copy of sink client properties, failing with a message naming {@code what} and the
     * key when they lack a region or their credential settings are invalid.
     */
    public static Properties checkedCopy(Properties properties, String what) {
        checkSettings(
                properties == null ? Collections.emptyMap() : settingsOf(properties), what);
        Properties copy = new Properties();
        copy.putAll(properties);
        return copy;
    }

    /**
     * Fails with a message naming {@code what} and the key when the client settings lack a region
     * or hold invalid credential settings; for builders to call before any client is made.
     */
    public static void checkSettings(Map<String, String> settings, String what) {
        String region = settings.get(AWS_REGION);
        if (region == null || region.trim().isEmpty()) {
            throw new IllegalArgumentException(
                    what + ": client property '" + AWS_REGION + "' must be set");
        }
        AwsCredentialSettings.check(settings, what);
    }

    /**
     * Netty client on HTTP/1.1: the sinks' calls need no HTTP/2, and the Kinesis client's HTTP/2
     * default is refused by plain-HTTP endpoints such as emulators.
     */
    private static NettyNioAsyncHttpClient.Builder asyncHttpClient() {
        return NettyNioAsyncHttpClient.builder()
                .protocol(Protocol.HTTP1_1)
                .connectionTimeout(CONNECT_TIMEOUT)
                .readTimeout(SOCKET_TIMEOUT)
                .writeTimeout(SOCKET_TIMEOUT);
    }

    private static Map<String, String> settingsOf(Properties properties) {
        Map<String, String> settings = new HashMap<>();
        for (String key : properties.stringPropertyNames()) {
            settings.put(key, properties.getProperty(key));
        }
        return settings;
    }

    private static <B extends AwsClientBuilder<B, ?>> B configure(
            B builder, Map<String, String> settings) {
        String region = settings.get(AWS_REGION).trim();
        String endpoint = settings.get(AWS_ENDPOINT);
        builder.region(Region.of(region))
                .credentialsProvider(AwsCredentialSettings.provider(settings, region))
                .overrideConfiguration(
                        ClientOverrideConfiguration.builder()
                                .retryStrategy(RetryMode.STANDARD)
                                .apiCallAttemptTimeout(ATTEMPT_TIMEOUT)
                                .apiCallTimeout(CALL_TIMEOUT)
                                .build());
        if (endpoint != null && !endpoint.trim().isEmpty()) {
            builder.endpointOverride(URI.create(endpoint.trim()));
        }
        return builder;
    }
}
