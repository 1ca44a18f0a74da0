package dev.streamscoring.connectors.kinesis;

import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.ChildShard;
import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.HashKeyRange;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.LimitExceededException;
import software.amazon.awssdk.services.kinesis.model.ProvisionedThroughputExceededException;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Stream proxy answering from scripts instead of Kinesis: ListShards returns {@link #shards} or
 * throws {@link #listShardsError}; GetShardIterator and GetRecords take the next scripted outcome
 * of the shard (an exception to throw, or a response), and without one return an iterator named
 * after the shard and an empty, caught-up response. Every call is recorded.
 */
class FakeKinesisProxy extends KinesisStreamProxy {

    static final String ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/in";

    volatile List<Shard> shards = Collections.emptyList();
    volatile RuntimeException listShardsError;

    private final Map<String, Deque<Object>> iteratorScripts = new ConcurrentHashMap<>();
    private final Map<String, Deque<Object>> recordScripts = new ConcurrentHashMap<>();

    /** (shard id, position) of each GetShardIterator call. */
    final List<Map.Entry<String, StartingPosition>> iteratorRequests =
            Collections.synchronizedList(new ArrayList<>());

    /** Shard id and wall-clock time (ms) of each GetRecords call. */
    final List<Map.Entry<String, Long>> getRecordsCalls =
            Collections.synchronizedList(new ArrayList<>());

    FakeKinesisProxy() {
        super(null, ARN);
    }

    void scriptIterator(String shardId, Object... outcomes) {
        script(iteratorScripts, shardId, outcomes);
    }

    void scriptRecords(String shardId, Object... outcomes) {
        script(recordScripts, shardId, outcomes);
    }

    private static void script(
            Map<String, Deque<Object>> scripts, String shardId, Object[] outcomes) {
        Deque<Object> queue = scripts.computeIfAbsent(shardId, k -> new ArrayDeque<>());
        synchronized (queue) {
            Collections.addAll(queue, outcomes);
        }
    }

    private static Object next(Map<String, Deque<Object>> scripts, String shardId) {
        Deque<Object> queue = scripts.get(shardId);
        if (queue == null) {
            return null;
        }
        synchronized (queue) {
            return queue.poll();
        }
    }

    @Override
    List<Shard> listShards() {
        RuntimeException error = listShardsError;
        if (error != null) {
            throw error;
        }
        return shards;
    }

    @Override
    String getShardIterator(String shardId, StartingPosition position) {
        iteratorRequests.add(Map.entry(shardId, position));
        Object outcome = next(iteratorScripts, shardId);
        if (outcome instanceof RuntimeException) {
            throw (RuntimeException) outcome;
        }
        return shardId + "#" + iteratorRequests.size();
    }

    @Override
    GetRecordsResponse getRecords(String shardIterator, int limit) {
        String shardId = shardIterator.substring(0, shardIterator.indexOf('#'));
        getRecordsCalls.add(Map.entry(shardId, System.currentTimeMillis()));
        Object outcome = next(recordScripts, shardId);
        if (outcome instanceof RuntimeException) {
            throw (RuntimeException) outcome;
        }
        if (outcome instanceof GetRecordsResponse) {
            return (GetRecordsResponse) outcome;
        }
        return GetRecordsResponse.builder()
                .records(Collections.emptyList())
                .nextShardIterator(shardIterator)
                .millisBehindLatest(0L)
                .build();
    }

    List<String> getRecordsShardIds() {
        List<String> ids = new ArrayList<>();
        synchronized (getRecordsCalls) {
            for (Map.Entry<String, Long> call : getRecordsCalls) {
                ids.add(call.getKey());
            }
        }
        return ids;
    }

    @Override
    public void close() {}

    /** A GetRecords answer with records of these sequence numbers, still behind the tip. */
    static GetRecordsResponse records(String shardId, String... sequenceNumbers) {
        List<Record> records = new ArrayList<>();
        for (String sequenceNumber : sequenceNumbers) {
            records.add(
                    Record.builder()
                            .sequenceNumber(sequenceNumber)
                            .partitionKey("k")
                            .data(SdkBytes.fromUtf8String("r" + sequenceNumber))
                            .approximateArrivalTimestamp(Instant.ofEpochMilli(1_000L))
                            .build());
        }
        return GetRecordsResponse.builder()
                .records(records)
                .nextShardIterator(shardId + "#more")
                .millisBehindLatest(5_000L)
                .build();
    }

    /** The last GetRecords answer of a closed shard: no next iterator. */
    static GetRecordsResponse endOfShard() {
        return GetRecordsResponse.builder()
                .records(Collections.emptyList())
                .millisBehindLatest(0L)
                .build();
    }

    /** The last GetRecords answer of a closed shard that names its children. */
    static GetRecordsResponse endOfShard(String shardId, String... children) {
        List<ChildShard> childShards = new ArrayList<>();
        for (String child : children) {
            childShards.add(ChildShard.builder().shardId(child).parentShards(shardId).build());
        }
        return GetRecordsResponse.builder()
                .records(Collections.emptyList())
                .millisBehindLatest(0L)
                .childShards(childShards)
                .build();
    }

    /** A shard covering the {@code part}-th of {@code parts} equal slices of the hash key space. */
    static Shard shard(String shardId, int part, int parts, String... parents) {
        BigInteger space = BigInteger.ONE.shiftLeft(128);
        BigInteger start =
                space.multiply(BigInteger.valueOf(part)).divide(BigInteger.valueOf(parts));
        BigInteger end =
                space.multiply(BigInteger.valueOf(part + 1L))
                        .divide(BigInteger.valueOf(parts))
                        .subtract(BigInteger.ONE);
        return Shard.builder()
                .shardId(shardId)
                .parentShardId(parents.length > 0 ? parents[0] : null)
                .adjacentParentShardId(parents.length > 1 ? parents[1] : null)
                .hashKeyRange(
                        HashKeyRange.builder()
                                .startingHashKey(start.toString())
                                .endingHashKey(end.toString())
                                .build())
                .build();
    }

    static ResourceNotFoundException notFound() {
        return ResourceNotFoundException.builder().message("Stream in not found").build();
    }

    static ExpiredIteratorException expired() {
        return ExpiredIteratorException.builder().message("Iterator expired").build();
    }

    static ProvisionedThroughputExceededException throttled() {
        return ProvisionedThroughputExceededException.builder()
                .statusCode(400)
                .awsErrorDetails(
                        AwsErrorDetails.builder()
                                .errorCode("ProvisionedThroughputExceededException")
                                .build())
                .message("Rate exceeded for shard")
                .build();
    }

    static LimitExceededException limitExceeded() {
        return LimitExceededException.builder().statusCode(400).message("Rate exceeded").build();
    }

    static KinesisException serverError() {
        return (KinesisException)
                KinesisException.builder().statusCode(500).message("Internal failure").build();
    }
}
