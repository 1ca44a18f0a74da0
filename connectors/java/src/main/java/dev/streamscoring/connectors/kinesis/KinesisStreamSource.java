package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsClientFactory;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.util.UserCodeClassLoader;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Unbounded Flink source reading a Kinesis data stream, addressed by ARN, by polling
 * (GetShardIterator/GetRecords). Every record is deserialized with the given schema and emitted
 * with its approximate arrival time (epoch ms) as the record timestamp. Checkpoints keep each
 * shard's last emitted sequence number, so a restored job resumes right after it (at-least-once
 * downstream, exactly-once into Flink state).
 *
 * <pre>{@code
 * KinesisStreamSource<String> source = KinesisStreamSource.<String>builder()
 *     .setStreamArn("arn:aws:kinesis:us-east-1:123456789012:stream/events")
 *     .setSourceConfig(config)
 *     .setDeserializationSchema(new SimpleStringSchema())
 *     .build();
 * }</pre>
 *
 * <p>Source configuration keys (names and defaults as in the official Flink AWS connector; any
 * other {@code source.*} key is refused by {@link Builder#build()}):
 *
 * <table>
 *   <caption>Source configuration</caption>
 *   <tr><th>Key</th><th>Default</th><th>Meaning</th></tr>
 *   <tr><td>{@code aws.region}</td><td>region of the stream ARN</td><td>Region of the stream
 *       and client.</td></tr>
 *   <tr><td>{@code aws.endpoint}</td><td>(none)</td><td>Endpoint URL override, e.g.
 *       {@code http://127.0.0.1:5000}.</td></tr>
 *   <tr><td>{@code source.init.position}</td><td>LATEST</td><td>LATEST, TRIM_HORIZON or
 *       AT_TIMESTAMP: where shards present at the first start begin. LATEST means the time the
 *       job first started (it is stored as that timestamp, so a restore skips nothing). Shards
 *       appearing later always begin at TRIM_HORIZON.</td></tr>
 *   <tr><td>{@code source.init.timestamp}</td><td>(none)</td><td>For AT_TIMESTAMP: epoch
 *       seconds, a date-time in the format below, or ISO-8601 (UTC if no offset).</td></tr>
 *   <tr><td>{@code source.init.timestamp.format}</td><td>{@code yyyy-MM-dd'T'HH:mm:ss.SSSXXX}
 *       </td><td>Pattern of {@code source.init.timestamp}.</td></tr>
 *   <tr><td>{@code source.shard.discovery.interval}</td><td>10 s</td><td>How often ListShards
 *       looks for new shards.</td></tr>
 *   <tr><td>{@code source.shard.get-records.max-record-count}</td><td>10000</td><td>GetRecords
 *       limit.</td></tr>
 *   <tr><td>{@code source.reader.type}</td><td>POLLING</td><td>Only POLLING is supported;
 *       EFO is rejected by {@link Builder#build()}.</td></tr>
 *   <tr><td>{@code source.reader.empty-records-fetch-interval}</td><td>250 ms</td><td>Pause
 *       before polling a shard again once it is caught up.</td></tr>
 * </table>
 *
 * <p>Reshards keep per-key order: a child shard is read only after its parents are read to their
 * end (or expired). Nor do they make a child's first records late: a parent read to its end stays
 * open, reading nothing, so that its last watermark holds back its subtask's, until its children
 * are assigned, to the subtask of one of their parents (at most 3 discovery intervals, and at least
 * 30 s, then it is finished anyway). A watermark strategy that marks a split idle sooner than that lets
 * the held parent go idle, and it no longer holds the watermark. Each shard is polled at most 5 times a second; throttling and expired iterators
 * are retried without failing the job.
 *
 * <p>A shard or stream that Kinesis no longer finds (ResourceNotFoundException) ends the shard's
 * split instead of failing the job, and shard discovery keeps looking for the stream. If a stream
 * is deleted and created again under the same name, its shards come back with the same ids but new
 * sequence numbers: a shard id that vanished this way, or that was read to its end before
 * ListShards found the stream missing, is read again from TRIM_HORIZON when it is listed again.
 *
 * <p>Credentials come from the AWS SDK default provider chain, or from a role assumed through STS
 * with {@code aws.credentials.provider.role.arn} (and {@code .externalId}, {@code .sessionName}).
 * Each reader exposes a gauge {@code
 * KinesisStreamSource.accountId.<account>.region.<region>.stream.<name>.shardId.<id>.millisBehindLatest}
 * per shard being read, and the counters {@code getRecordsThrottled}, {@code
 * getShardIteratorThrottled}, {@code expiredIterators}, {@code getRecordsRetries} and {@code
 * shardsNotFound}. Against a JSON-only Kinesis emulator, turn off the SDK's CBOR encoding with the
 * JVM system property {@code aws.cborEnabled=false} (or the environment variable {@code
 * CBOR_ENABLED=false}).
 */
public final class KinesisStreamSource<T>
        implements Source<T, KinesisShardSplit, KinesisEnumeratorState>, ResultTypeQueryable<T> {

    private static final long serialVersionUID = 1L;

    /** Least time a shard read to its end is kept open while its children are not assigned. */
    private static final long MIN_HOLD_TIMEOUT_MS = 30_000L;

    private final String streamArn;
    private final Configuration sourceConfig;
    private final KinesisRecordDeserializer<T> deserializer;

    private KinesisStreamSource(
            String streamArn,
            Configuration sourceConfig,
            KinesisRecordDeserializer<T> deserializer) {
        this.streamArn = streamArn;
        this.sourceConfig = sourceConfig;
        this.deserializer = deserializer;
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    @Override
    public Boundedness getBoundedness() {
        return Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<T, KinesisShardSplit> createReader(SourceReaderContext readerContext)
            throws Exception {
        deserializer.open(
                new DeserializationSchema.InitializationContext() {
                    @Override
                    public MetricGroup getMetricGroup() {
                        return readerContext.metricGroup().addGroup("deserializer");
                    }

                    @Override
                    public UserCodeClassLoader getUserCodeClassLoader() {
                        return readerContext.getUserCodeClassLoader();
                    }
                });
        int maxRecords = sourceConfig.get(KinesisSourceOptions.SHARD_GET_RECORDS_MAX);
        long emptyFetchIntervalMs =
                sourceConfig
                        .get(KinesisSourceOptions.READER_EMPTY_RECORDS_FETCH_INTERVAL)
                        .toMillis();
        Set<String> vanishedShardIds = ConcurrentHashMap.newKeySet();
        ShardHolds holds = new ShardHolds();
        long holdTimeoutMs =
                Math.max(
                        MIN_HOLD_TIMEOUT_MS,
                        3
                                * sourceConfig
                                        .get(KinesisSourceOptions.SHARD_DISCOVERY_INTERVAL)
                                        .toMillis());
        KinesisReaderMetrics metrics =
                new KinesisReaderMetrics(readerContext.metricGroup(), streamArn);
        return new KinesisSourceReader<>(
                () ->
                        new PollingShardSplitReader(
                                createProxy(),
                                maxRecords,
                                emptyFetchIntervalMs,
                                metrics,
                                vanishedShardIds,
                                holds,
                                holdTimeoutMs),
                new KinesisRecordEmitter<>(deserializer, streamArn),
                sourceConfig,
                readerContext,
                vanishedShardIds,
                holds);
    }

    @Override
    public SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> createEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> enumContext) {
        return restoreEnumerator(enumContext, KinesisEnumeratorState.empty());
    }

    @Override
    public SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> enumContext,
            KinesisEnumeratorState checkpoint) {
        return new KinesisShardEnumerator(
                enumContext,
                createProxy(),
                KinesisSourceOptions.initialPosition(sourceConfig),
                sourceConfig.get(KinesisSourceOptions.SHARD_DISCOVERY_INTERVAL).toMillis(),
                checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<KinesisShardSplit> getSplitSerializer() {
        return new KinesisShardSplitSerializer();
    }

    @Override
    public SimpleVersionedSerializer<KinesisEnumeratorState> getEnumeratorCheckpointSerializer() {
        return new KinesisEnumeratorStateSerializer();
    }

    @Override
    public TypeInformation<T> getProducedType() {
        return deserializer.getProducedType();
    }

    private KinesisStreamProxy createProxy() {
        return new KinesisStreamProxy(
                AwsClientFactory.createKinesisClient(clientSettings(sourceConfig, streamArn)),
                streamArn);
    }

    /** The client settings of the source: region (from the ARN if unset), endpoint, credentials. */
    private static Map<String, String> clientSettings(Configuration config, String streamArn) {
        Map<String, String> settings = new HashMap<>(config.toMap());
        settings.put(
                KinesisSourceOptions.AWS_REGION.key(),
                KinesisSourceOptions.region(config, streamArn));
        return settings;
    }

    /**
     * Builder of {@link KinesisStreamSource}; stream ARN, config and a deserializer (or schema) are
     * required.
     */
    public static final class Builder<T> {
        private String streamArn;
        private Configuration sourceConfig = new Configuration();
        private KinesisRecordDeserializer<T> deserializer;

        private Builder() {}

        /** The stream's ARN, e.g. {@code arn:aws:kinesis:us-east-1:123456789012:stream/name}. */
        public Builder<T> setStreamArn(String streamArn) {
            this.streamArn = streamArn;
            return this;
        }

        /** The source configuration; see {@link KinesisStreamSource} for its keys. */
        public Builder<T> setSourceConfig(Configuration sourceConfig) {
            this.sourceConfig = sourceConfig;
            return this;
        }

        /**
         * Deserializes each user record with a plain schema; corrupt KPL aggregates are then
         * logged at WARN, counted ({@code corruptAggregates}) and skipped.
         */
        public Builder<T> setDeserializationSchema(DeserializationSchema<T> deserializationSchema) {
            this.deserializer =
                    new DeserializationSchemaAdapter<>(
                            Objects.requireNonNull(deserializationSchema, "deserializationSchema"));
            return this;
        }

        /**
         * Deserializes each user record (KPL aggregates are split into theirs) with its metadata,
         * and corrupt aggregates as data.
         */
        public Builder<T> setDeserializer(KinesisRecordDeserializer<T> deserializer) {
            this.deserializer = deserializer;
            return this;
        }

        /**
         * Validates the settings and creates the source.
         *
         * @throws IllegalArgumentException if a setting is missing or invalid, or an unsupported
         *     reader type (EFO) is configured
         */
        public KinesisStreamSource<T> build() {
            if (streamArn == null || !streamArn.startsWith("arn:")) {
                throw new IllegalArgumentException(
                        "A stream ARN (arn:...:kinesis:...:stream/NAME) must be set, got "
                                + streamArn);
            }
            Objects.requireNonNull(sourceConfig, "sourceConfig");
            Objects.requireNonNull(
                    deserializer, "a deserializer or deserialization schema must be set");
            Configuration copy = new Configuration(sourceConfig);
            KinesisSourceOptions.validate(copy);
            AwsClientFactory.checkSettings(clientSettings(copy, streamArn), "Kinesis source");
            return new KinesisStreamSource<>(streamArn, copy, deserializer);
        }
    }
}
