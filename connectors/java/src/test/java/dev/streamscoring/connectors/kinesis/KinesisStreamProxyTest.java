package dev.streamscoring.connectors.kinesis;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorResponse;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** How the source's Kinesis calls address the stream: by ARN, and by name for kinesalite. */
class KinesisStreamProxyTest {

    /** A stream of another account than the caller's: only its ARN reaches it. */
    private static final String CROSS_ACCOUNT_ARN =
            "arn:aws:kinesis:eu-west-1:210987654321:stream/trips-in";

    private final RecordingKinesis kinesis = new RecordingKinesis();
    private final KinesisStreamProxy proxy = new KinesisStreamProxy(kinesis, CROSS_ACCOUNT_ARN);

    @Test
    void listShardsNamesTheStreamByArnAndNameOnEveryPage() {
        kinesis.pages.add(page("token-1", "shardId-000000000000", "shardId-000000000001"));
        kinesis.pages.add(page(null, "shardId-000000000002"));

        List<Shard> shards = proxy.listShards();

        assertEquals(
                Arrays.asList(
                        "shardId-000000000000", "shardId-000000000001", "shardId-000000000002"),
                shards.stream().map(Shard::shardId).collect(Collectors.toList()));
        assertEquals(2, kinesis.listShardsRequests.size());
        for (ListShardsRequest request : kinesis.listShardsRequests) {
            assertEquals(CROSS_ACCOUNT_ARN, request.streamARN());
            assertEquals("trips-in", request.streamName());
            assertNull(request.nextToken());
        }
        assertNull(kinesis.listShardsRequests.get(0).exclusiveStartShardId());
        assertEquals(
                "shardId-000000000001", kinesis.listShardsRequests.get(1).exclusiveStartShardId());
    }

    @Test
    void listShardsEndsOnAPageWithoutNextTokenAsKinesaliteAnswers() {
        kinesis.pages.add(page(null, "shardId-000000000000"));

        assertEquals(1, proxy.listShards().size());
        assertEquals(1, kinesis.listShardsRequests.size());
    }

    @Test
    void getShardIteratorNamesTheStreamByArnAndName() {
        String iterator =
                proxy.getShardIterator("shardId-000000000001", StartingPosition.trimHorizon());

        assertEquals("iterator-shardId-000000000001", iterator);
        GetShardIteratorRequest request = kinesis.iteratorRequests.get(0);
        assertEquals(CROSS_ACCOUNT_ARN, request.streamARN());
        assertEquals("trips-in", request.streamName());
        assertEquals("shardId-000000000001", request.shardId());
        assertEquals(ShardIteratorType.TRIM_HORIZON, request.shardIteratorType());
    }

    @Test
    void getRecordsSendsTheIteratorWithTheArn() {
        proxy.getRecords("iterator-1", 500);

        GetRecordsRequest request = kinesis.recordsRequests.get(0);
        assertEquals("iterator-1", request.shardIterator());
        assertEquals(CROSS_ACCOUNT_ARN, request.streamARN());
        assertEquals(500, request.limit());
    }

    @Test
    void refusesAStreamNameInPlaceOfAnArn() {
        assertThrows(
                IllegalArgumentException.class, () -> new KinesisStreamProxy(kinesis, "trips"));
    }

    private static ListShardsResponse page(String nextToken, String... shardIds) {
        List<Shard> shards = new ArrayList<>();
        for (String id : shardIds) {
            shards.add(Shard.builder().shardId(id).build());
        }
        return ListShardsResponse.builder().shards(shards).nextToken(nextToken).build();
    }

    /** Records the source's requests and answers ListShards with queued pages. */
    private static final class RecordingKinesis implements KinesisClient {
        final Deque<ListShardsResponse> pages = new ArrayDeque<>();
        final List<ListShardsRequest> listShardsRequests = new ArrayList<>();
        final List<GetShardIteratorRequest> iteratorRequests = new ArrayList<>();
        final List<GetRecordsRequest> recordsRequests = new ArrayList<>();

        @Override
        public ListShardsResponse listShards(ListShardsRequest request) {
            listShardsRequests.add(request);
            return pages.remove();
        }

        @Override
        public GetShardIteratorResponse getShardIterator(GetShardIteratorRequest request) {
            iteratorRequests.add(request);
            return GetShardIteratorResponse.builder()
                    .shardIterator("iterator-" + request.shardId())
                    .build();
        }

        @Override
        public GetRecordsResponse getRecords(GetRecordsRequest request) {
            recordsRequests.add(request);
            return GetRecordsResponse.builder().millisBehindLatest(0L).build();
        }

        @Override
        public String serviceName() {
            return "kinesis";
        }

        @Override
        public void close() {}
    }
}
