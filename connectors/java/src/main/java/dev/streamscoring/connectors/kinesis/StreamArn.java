package dev.streamscoring.connectors.kinesis;

/**
 * The parts of a Kinesis stream ARN, {@code
 * arn:<partition>:kinesis:<region>:<account>:stream/<name>}, that the source needs: the region when
 * none is configured, and the account, region and name that label the per-shard metrics.
 */
final class StreamArn {

    private final String region;
    private final String accountId;
    private final String streamName;

    private StreamArn(String region, String accountId, String streamName) {
        this.region = region;
        this.accountId = accountId;
        this.streamName = streamName;
    }

    /**
     * Splits an ARN into its parts.
     *
     * @throws IllegalArgumentException if it is not a Kinesis stream ARN
     */
    static StreamArn parse(String arn) {
        String[] parts = arn == null ? new String[0] : arn.split(":", 6);
        if (parts.length != 6
                || !"arn".equals(parts[0])
                || !"kinesis".equals(parts[2])
                || !parts[5].startsWith("stream/")
                || parts[5].length() == "stream/".length()) {
            throw new IllegalArgumentException(
                    "Not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME): "
                            + arn);
        }
        return new StreamArn(parts[3], parts[4], parts[5].substring("stream/".length()));
    }

    /** The region, or an empty string when the ARN leaves it out. */
    String region() {
        return region;
    }

    String accountId() {
        return accountId;
    }

    String streamName() {
        return streamName;
    }
}
