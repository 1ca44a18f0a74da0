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
import java.util.Properties;

/**
 * Builds the AWS SDK clients used by the connectors from the connector settings {@code aws.region}
 * (required) and {@code aws.endpoint} (optional endpoint URL override). Credentials come from the
 * SDK's default provider chain (environment, system properties, web identity, profile, container
 * and instance roles).
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

    /** A synchronous Kinesis client for the source (enumerator and polling readers). */
    public static KinesisClient createKinesisClient(String region, String endpoint) {
        return configure(KinesisClient.builder(), region, endpoint)
                .httpClientBuilder(
                        UrlConnectionHttpClient.builder()
                                .connectionTimeout(CONNECT_TIMEOUT)
                                .socketTimeout(SOCKET_TIMEOUT))
                .build();
    }

    /** An asynchronous Kinesis client for the Kinesis stream sink. */
    public static KinesisAsyncClient createKinesisAsyncClient(Properties properties) {
        return configure(KinesisAsyncClient.builder(), properties)
                .httpClientBuilder(asyncHttpClient())
                .build();
    }

    /** An asynchronous Firehose client for the Firehose sink. */
    public static FirehoseAsyncClient createFirehoseAsyncClient(Properties properties) {
        return configure(FirehoseAsyncClient.builder(), properties)
                .httpClientBuilder(asyncHttpClient())
                .build();
    }

    /**
     * Returns a copy of sink client properties, failing with a message naming {@code what} when
     * they lack a region.
     */
    public static Properties checkedCopy(Properties properties, String what) {
        String region = properties == null ? null : properties.getProperty(AWS_REGION);
        if (region == null || region.trim().isEmpty()) {
            throw new IllegalArgumentException(
                    what + ": client property '" + AWS_REGION + "' must be set");
        }
        Properties copy = new Properties();
        copy.putAll(properties);
        return copy;
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

    private static <B extends AwsClientBuilder<B, ?>> B configure(
            B builder, Properties properties) {
        return configure(
                builder, properties.getProperty(AWS_REGION), properties.getProperty(AWS_ENDPOINT));
    }

    private static <B extends AwsClientBuilder<B, ?>> B configure(
            B builder, String region, String endpoint) {
        builder.region(Region.of(region.trim()))
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
