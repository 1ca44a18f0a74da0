package dev.streamscoring.connectors.aws;

import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.sts.StsClient;
import software.amazon.awssdk.services.sts.StsClientBuilder;
import software.amazon.awssdk.services.sts.auth.StsAssumeRoleCredentialsProvider;
import software.amazon.awssdk.services.sts.model.AssumeRoleRequest;
import software.amazon.awssdk.utils.SdkAutoCloseable;

import java.net.URI;

/**
 * Session credentials of an assumed IAM role, renewed through STS AssumeRole before they expire.
 * Owns its STS client: the provider the SDK offers leaves a given client open, and a client's
 * timeout threads would otherwise outlive every restarted sink writer or source reader.
 */
final class AssumedRoleCredentials implements AwsCredentialsProvider, SdkAutoCloseable {

    private final StsClient sts;
    private final AssumeRoleRequest request;
    private final StsAssumeRoleCredentialsProvider provider;
    private volatile boolean closed;

    private AssumedRoleCredentials(StsClient sts, AssumeRoleRequest request) {
        this.sts = sts;
        this.request = request;
        this.provider =
                StsAssumeRoleCredentialsProvider.builder()
                        .stsClient(sts)
                        .refreshRequest(request)
                        .build();
    }

    /** {@code stsEndpoint} null: the region's STS endpoint. Makes no call yet. */
    static AssumedRoleCredentials create(
            String roleArn, String sessionName, String externalId, String region, URI stsEndpoint) {
        StsClientBuilder sts =
                StsClient.builder()
                        .region(Region.of(region))
                        .credentialsProvider(DefaultCredentialsProvider.builder().build())
                        .httpClientBuilder(UrlConnectionHttpClient.builder())
                        .overrideConfiguration(
                                ClientOverrideConfiguration.builder()
                                        .retryStrategy(RetryMode.STANDARD)
                                        .build());
        if (stsEndpoint != null) {
            sts.endpointOverride(stsEndpoint);
        }
        AssumeRoleRequest request =
                AssumeRoleRequest.builder()
                        .roleArn(roleArn)
                        .roleSessionName(sessionName)
                        .externalId(externalId)
                        .build();
        return new AssumedRoleCredentials(sts.build(), request);
    }

    @Override
    public AwsCredentials resolveCredentials() {
        return provider.resolveCredentials();
    }

    StsClient stsClient() {
        return sts;
    }

    AssumeRoleRequest assumeRoleRequest() {
        return request;
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
        try {
            provider.close();
        } finally {
            sts.close();
        }
    }
}
