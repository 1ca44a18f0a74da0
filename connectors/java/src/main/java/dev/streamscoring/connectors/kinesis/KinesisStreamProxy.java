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

/** The few Kinesis Data Streams calls the source makes, all addressed by stream ARN. */
class KinesisStreamProxy implements AutoCloseable {

    private final KinesisClient client;
    private final String streamArn;

    KinesisStreamProxy(KinesisClient client, String streamArn) {
        this.client = client;
        this.streamArn = streamArn;
    }

    String getStreamArn() {
        return streamArn;
    }

    /** All shards of the stream still within its retention period, open and closed. */
    List<Shard> listShards() {
        List<Shard> shards = new ArrayList<>();
        String exclusiveStartShardId = null;
        while (true) {
            ListShardsResponse page =
                    client.listShards(
                            ListShardsRequest.builder()
                                    .streamARN(streamArn)
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
                GetShardIteratorRequest.builder().streamARN(streamArn).shardId(shardId);
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
