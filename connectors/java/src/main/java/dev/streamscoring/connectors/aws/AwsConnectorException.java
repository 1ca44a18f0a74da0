package dev.streamscoring.connectors.aws;

/** A non-retryable failure talking to Kinesis Data Streams or Firehose. */
public class AwsConnectorException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public AwsConnectorException(String message, Throwable cause) {
        super(message, cause);
    }
}
