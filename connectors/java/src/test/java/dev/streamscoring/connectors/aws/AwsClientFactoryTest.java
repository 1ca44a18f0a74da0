package dev.streamscoring.connectors.aws;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.firehose.FirehoseAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.sts.model.AssumeRoleRequest;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Client settings and credentials provider selection; no call reaches AWS. */
class AwsClientFactoryTest {

    private static final String ROLE = "arn:aws:iam::123456789012:role/scoring/delivery-writer";

    private static Map<String, String> settings(String... keysAndValues) {
        Map<String, String> settings = new HashMap<>();
        settings.put(AwsClientFactory.AWS_REGION, "eu-west-1");
        for (int i = 0; i < keysAndValues.length; i += 2) {
            settings.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return settings;
    }

    @Test
    void withoutRoleTheClientSignsWithTheDefaultChain() {
        try (KinesisClient client =
                AwsClientFactory.createKinesisClient(
                        settings(AwsClientFactory.AWS_ENDPOINT, "http://127.0.0.1:4567"))) {
            assertInstanceOf(
                    DefaultCredentialsProvider.class,
                    client.serviceClientConfiguration().credentialsProvider());
            assertEquals(Region.EU_WEST_1, client.serviceClientConfiguration().region());
            assertEquals(
                    Optional.of(URI.create("http://127.0.0.1:4567")),
                    client.serviceClientConfiguration().endpointOverride());
        }
    }

    @Test
    void regionAndEndpointOverloadStillWorks() {
        try (KinesisClient client = AwsClientFactory.createKinesisClient("us-east-2", null)) {
            assertInstanceOf(
                    DefaultCredentialsProvider.class,
                    client.serviceClientConfiguration().credentialsProvider());
            assertEquals(Region.US_EAST_2, client.serviceClientConfiguration().region());
            assertFalse(client.serviceClientConfiguration().endpointOverride().isPresent());
        }
    }

    @Test
    void roleArnAloneAssumesTheRoleWithTheDefaultSessionNameAndRegionalSts() {
        try (KinesisClient client =
                AwsClientFactory.createKinesisClient(
                        settings(AwsCredentialSettings.ROLE_ARN, ROLE))) {
            AssumedRoleCredentials role =
                    assertInstanceOf(
                            AssumedRoleCredentials.class,
                            client.serviceClientConfiguration().credentialsProvider());
            assertEquals(
                    AssumeRoleRequest.builder()
                            .roleArn(ROLE)
                            .roleSessionName("stream-scoring")
                            .build(),
                    role.assumeRoleRequest());
            assertEquals(Region.EU_WEST_1, role.stsClient().serviceClientConfiguration().region());
            assertFalse(
                    role.stsClient().serviceClientConfiguration().endpointOverride().isPresent());
        }
    }

    @Test
    void assumedRoleTakesExternalIdSessionNameAndStsEndpoint() {
        Properties properties = new Properties();
        properties.putAll(
                settings(
                        AwsCredentialSettings.PROVIDER, "assume_role",
                        AwsCredentialSettings.ROLE_ARN, ROLE,
                        AwsCredentialSettings.ROLE_EXTERNAL_ID, "partner-7:scoring",
                        AwsCredentialSettings.ROLE_SESSION_NAME, "job.42@eu",
                        AwsCredentialSettings.ROLE_STS_ENDPOINT,
                                "https://sts.eu-west-1.amazonaws.com"));
        AwsClientFactory.checkedCopy(properties, "FirehoseSink");
        try (FirehoseAsyncClient client = AwsClientFactory.createFirehoseAsyncClient(properties)) {
            AssumedRoleCredentials role =
                    assertInstanceOf(
                            AssumedRoleCredentials.class,
                            client.serviceClientConfiguration().credentialsProvider());
            assertEquals(
                    AssumeRoleRequest.builder()
                            .roleArn(ROLE)
                            .roleSessionName("job.42@eu")
                            .externalId("partner-7:scoring")
                            .build(),
                    role.assumeRoleRequest());
            assertEquals(
                    Optional.of(URI.create("https://sts.eu-west-1.amazonaws.com")),
                    role.stsClient().serviceClientConfiguration().endpointOverride());
        }
    }

    @Test
    void closingTheClientClosesTheAssumedRole() {
        KinesisClient client =
                AwsClientFactory.createKinesisClient(
                        settings(AwsCredentialSettings.ROLE_ARN, ROLE));
        AssumedRoleCredentials role =
                (AssumedRoleCredentials) client.serviceClientConfiguration().credentialsProvider();
        assertFalse(role.isClosed());
        client.close();
        assertTrue(role.isClosed());
    }

    @Test
    void malformedRoleArnNamesTheKey() {
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                AwsClientFactory.checkSettings(
                                        settings(
                                                AwsCredentialSettings.ROLE_ARN,
                                                "arn:aws:iam::1234:user/someone"),
                                        "KinesisStreamSource"));
        assertEquals(
                "KinesisStreamSource: client property 'aws.credentials.provider.role.arn' must be"
                        + " an IAM role ARN like arn:aws:iam::123456789012:role/name, got"
                        + " 'arn:aws:iam::1234:user/someone'",
                error.getMessage());
    }

    @Test
    void malformedSessionNameNamesTheKey() {
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                AwsClientFactory.checkSettings(
                                        settings(
                                                AwsCredentialSettings.ROLE_ARN, ROLE,
                                                AwsCredentialSettings.ROLE_SESSION_NAME,
                                                        "stream scoring"),
                                        "KinesisStreamSink"));
        assertEquals(
                "KinesisStreamSink: client property 'aws.credentials.provider.role.sessionName'"
                        + " must be 2 to 64 characters of letters, digits and +=,.@_-, got"
                        + " 'stream scoring'",
                error.getMessage());
    }

    @Test
    void sessionNameLongerThan64CharactersIsRefused() {
        String name = new String(new char[65]).replace('\0', 'a');
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                AwsClientFactory.checkSettings(
                                        settings(
                                                AwsCredentialSettings.ROLE_ARN, ROLE,
                                                AwsCredentialSettings.ROLE_SESSION_NAME, name),
                                        "x"));
        assertTrue(
                error.getMessage().contains("'" + AwsCredentialSettings.ROLE_SESSION_NAME + "'"),
                error.getMessage());
    }

    @Test
    void assumeRoleWithoutArnNamesTheArnKey() {
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                AwsClientFactory.checkSettings(
                                        settings(AwsCredentialSettings.PROVIDER, "ASSUME_ROLE"),
                                        "FirehoseSink"));
        assertEquals(
                "FirehoseSink: client property 'aws.credentials.provider.role.arn' is required"
                        + " when aws.credentials.provider is ASSUME_ROLE",
                error.getMessage());
    }

    @Test
    void unsupportedProviderTypeIsRefused() {
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                AwsClientFactory.checkSettings(
                                        settings(AwsCredentialSettings.PROVIDER, "BASIC"), "x"));
        assertEquals(
                "x: client property 'aws.credentials.provider' must be AUTO or ASSUME_ROLE, got"
                        + " 'BASIC'",
                error.getMessage());
    }

    @Test
    void unknownCredentialKeyIsRefusedByName() {
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                AwsClientFactory.checkSettings(
                                        settings("aws.credentials.role.arn", ROLE), "x"));
        assertTrue(
                error.getMessage().startsWith("x: client property 'aws.credentials.role.arn' is"
                        + " not a known key"),
                error.getMessage());
    }

    @Test
    void missingRegionIsRefused() {
        Map<String, String> noRegion = new HashMap<>();
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> AwsClientFactory.checkSettings(noRegion, "KinesisStreamSource"));
        assertEquals(
                "KinesisStreamSource: client property 'aws.region' must be set",
                error.getMessage());
    }
}
