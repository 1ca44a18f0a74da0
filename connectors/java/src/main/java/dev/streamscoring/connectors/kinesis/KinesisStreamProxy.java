package dev.streamscoring.connectors.kinesis;

import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.util.ArrayList;
import java.util.List;

/**
 * The few Kinesis Data Streams calls the source makes. ListShards and GetShardIterator name the
 * stream by both its ARN and its name (taken from the ARN): Kinesis accepts either or both, and the
 * ARN is what reaches a stream of another account, while emulators such as kinesalite read only the
 * name. GetRecords needs only the shard iterator, which names the stream itself; it carries the ARN
 * as well, as the API reference recommends.
 */
class KinesisStreamProxy implements AutoCloseable {

    private final KinesisClient client;
    private final String streamArn;
    private final String streamName;

    /**
     * @throws IllegalArgumentException if {@code streamArn} is not a Kinesis stream ARN
     */
    KinesisStreamProxy(KinesisClient client, String streamArn) {
        this.client = client;
        this.streamArn = streamArn;
        this.streamName = StreamArn.parse(streamArn).streamName();
    }

    String getStreamArn() {
        return streamArn;
    }

    /**
     * All shards of the stream still within its retention period, open and closed. Pages by the
     * last shard id seen rather than by NextToken, since a NextToken request may not name the
     * stream, and kinesalite answers every shard in one page without a NextToken.
     */
    List<Shard> listShards() {
        List<Shard> shards = new ArrayList<>();
        String exclusiveStartShardId = null;
        while (true) {
            ListShardsResponse page =
                    client.listShards(
                            ListShardsRequest.builder()
                                    .streamARN(streamArn)
                                    .streamName(streamName)
                                    .exclusiveStartShardId(exclusiveStartShardId)
                                    .build());
            shards.addAll(page.shards());
            if (page.nextToken() == null || page.shards().isEmpty()) {
                return shards;
            }
            exclusiveStartShardId = page.shards().get(page.shards().size() - 1).shardId();
        }
    }

    String getShardIterator(String shardId, StartingPosition position) {
        GetShardIteratorRequest.Builder request =
                GetShardIteratorRequest.builder()
                        .streamARN(streamArn)
                        .streamName(streamName)
                        .shardId(shardId);
        position.applyTo(request);
        return client.getShardIterator(request.build()).shardIterator();
    }

    GetRecordsResponse getRecords(String shardIterator, int limit) {
        return client.getRecords(
                GetRecordsRequest.builder()
                        .streamARN(streamArn)
                        .shardIterator(shardIterator)
                        .limit(limit)
                        .build());
    }

    @Override
    public void close() {
        client.close();
    }
}
