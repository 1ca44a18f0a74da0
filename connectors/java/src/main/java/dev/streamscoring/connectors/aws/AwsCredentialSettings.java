package dev.streamscoring.connectors.aws;

import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;

import java.net.URI;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which credentials the AWS clients sign with, read from the connector settings: the SDK's default
 * provider chain, or a role assumed through STS when {@value #ROLE_ARN} is set. Key names follow
 * Flink's AWS connectors ({@code AWSConfigConstants}), so their configurations carry over.
 *
 * <ul>
 *   <li>{@value #PROVIDER}: {@code AUTO} (default chain) or {@code ASSUME_ROLE}; optional, setting
 *       {@value #ROLE_ARN} alone means {@code ASSUME_ROLE}.
 *   <li>{@value #ROLE_ARN}: the IAM role to assume, {@code arn:aws:iam::<account>:role/<name>}.
 *   <li>{@value #ROLE_EXTERNAL_ID}: optional external id the role's trust policy asks for.
 *   <li>{@value #ROLE_SESSION_NAME}: optional, {@value #DEFAULT_ROLE_SESSION_NAME} by default.
 *   <li>{@value #ROLE_STS_ENDPOINT}: optional STS endpoint URL; by default the region's endpoint.
 * </ul>
 *
 * <p>The STS calls themselves are signed with the default chain (on Managed Flink, the
 * application's service role).
 */
public final class AwsCredentialSettings {

    public static final String PROVIDER = "aws.credentials.provider";
    public static final String ROLE_ARN = "aws.credentials.provider.role.arn";
    public static final String ROLE_EXTERNAL_ID = "aws.credentials.provider.role.externalId";
    public static final String ROLE_SESSION_NAME = "aws.credentials.provider.role.sessionName";
    public static final String ROLE_STS_ENDPOINT = "aws.credentials.provider.role.stsEndpoint";

    public static final String DEFAULT_ROLE_SESSION_NAME = "stream-scoring";

    static final String AUTO = "AUTO";
    static final String ASSUME_ROLE = "ASSUME_ROLE";

    private static final String PREFIX = "aws.credentials.";
    private static final Set<String> KNOWN_KEYS =
            new HashSet<>(
                    Arrays.asList(
                            PROVIDER,
                            ROLE_ARN,
                            ROLE_EXTERNAL_ID,
                            ROLE_SESSION_NAME,
                            ROLE_STS_ENDPOINT));

    // The forms IAM and STS accept (AssumeRole API reference); checking them here turns a typo
    // into a start-up error instead of a failed first request deep inside a running job.
    private static final Pattern ROLE_ARN_FORM =
            Pattern.compile("arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]{1,576}");
    private static final Pattern SESSION_NAME_FORM = Pattern.compile("[\\w+=,.@-]{2,64}");
    private static final Pattern EXTERNAL_ID_FORM = Pattern.compile("[\\w+=,.@:/-]{2,1224}");

    private AwsCredentialSettings() {}

    /**
     * Fails with a message naming {@code what} and the offending key when the credential settings
     * are unknown, incomplete or malformed. Other keys of {@code settings} are not looked at.
     */
    public static void check(Map<String, String> settings, String what) {
        for (String key : settings.keySet()) {
            if (key.startsWith(PREFIX) && !KNOWN_KEYS.contains(key)) {
                throw invalid(
                        what,
                        key,
                        "is not a known key; credential keys are " + String.join(", ", known()));
            }
        }
        String provider = providerType(settings);
        if (!AUTO.equals(provider) && !ASSUME_ROLE.equals(provider)) {
            throw invalid(what, PROVIDER, "must be AUTO or ASSUME_ROLE, got '" + provider + "'");
        }
        String roleArn = value(settings, ROLE_ARN);
        if (AUTO.equals(provider)) {
            if (roleArn != null) {
                throw invalid(what, ROLE_ARN, "is set but " + PROVIDER + " is AUTO");
            }
            return;
        }
        if (roleArn == null) {
            throw invalid(what, ROLE_ARN, "is required when " + PROVIDER + " is ASSUME_ROLE");
        }
        if (!ROLE_ARN_FORM.matcher(roleArn).matches()) {
            throw invalid(
                    what,
                    ROLE_ARN,
                    "must be an IAM role ARN like arn:aws:iam::123456789012:role/name, got '"
                            + roleArn
                            + "'");
        }
        String sessionName = value(settings, ROLE_SESSION_NAME);
        if (sessionName != null && !SESSION_NAME_FORM.matcher(sessionName).matches()) {
            throw invalid(
                    what,
                    ROLE_SESSION_NAME,
                    "must be 2 to 64 characters of letters, digits and +=,.@_-, got '"
                            + sessionName
                            + "'");
        }
        String externalId = value(settings, ROLE_EXTERNAL_ID);
        if (externalId != null && !EXTERNAL_ID_FORM.matcher(externalId).matches()) {
            throw invalid(
                    what,
                    ROLE_EXTERNAL_ID,
                    "must be 2 to 1224 characters of letters, digits and +=,.@:/_-");
        }
        String stsEndpoint = value(settings, ROLE_STS_ENDPOINT);
        if (stsEndpoint != null && !isHttpUrl(stsEndpoint)) {
            throw invalid(
                    what,
                    ROLE_STS_ENDPOINT,
                    "must be an http or https URL, got '" + stsEndpoint + "'");
        }
    }

    /**
     * A new credentials provider for one client, which closes it with itself. {@code region} is
     * the region of the STS client when a role is assumed. The settings must have passed {@link
     * #check}.
     */
    public static AwsCredentialsProvider provider(Map<String, String> settings, String region) {
        if (AUTO.equals(providerType(settings))) {
            // A fresh instance rather than the shared one: closing a client closes its provider.
            return DefaultCredentialsProvider.builder().build();
        }
        String sessionName = value(settings, ROLE_SESSION_NAME);
        String stsEndpoint = value(settings, ROLE_STS_ENDPOINT);
        return AssumedRoleCredentials.create(
                value(settings, ROLE_ARN),
                sessionName != null ? sessionName : DEFAULT_ROLE_SESSION_NAME,
                value(settings, ROLE_EXTERNAL_ID),
                region,
                stsEndpoint != null ? URI.create(stsEndpoint) : null);
    }

    private static String providerType(Map<String, String> settings) {
        String provider = value(settings, PROVIDER);
        if (provider == null) {
            return value(settings, ROLE_ARN) != null ? ASSUME_ROLE : AUTO;
        }
        return provider.toUpperCase(Locale.ROOT);
    }

    private static String value(Map<String, String> settings, String key) {
        String value = settings.get(key);
        return value == null || value.trim().isEmpty() ? null : value.trim();
    }

    private static boolean isHttpUrl(String value) {
        try {
            URI uri = URI.create(value);
            return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
                    && uri.getHost() != null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static String[] known() {
        return KNOWN_KEYS.stream().sorted().toArray(String[]::new);
    }

    private static IllegalArgumentException invalid(String what, String key, String problem) {
        return new IllegalArgumentException(what + ": client property '" + key + "' " + problem);
    }
}
