package dev.streamscoring.connectors.s3;

import org.apache.flink.streaming.api.functions.sink.filesystem.BucketAssigner;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class WindowStartBucketAssignerTest {

    private static final long PROCESSING_TIME = 1_795_428_001_250L; // 2026-11-23T10:00:01.250Z

    private static final BucketAssigner.Context CONTEXT =
            new BucketAssigner.Context() {
                @Override
                public long currentProcessingTime() {
                    return PROCESSING_TIME;
                }

                @Override
                public long currentWatermark() {
                    return Long.MIN_VALUE;
                }

                @Override
                public Long timestamp() {
                    return null;
                }
            };

    private final WindowStartBucketAssigner assigner = new WindowStartBucketAssigner();

    @Test
    void partitionsByTheWindowStartInUtc() {
        assertEquals(
                "dt=2026-11-22/hour=23",
                assigner.getBucketId(
                        "{\"vendor_id\":\"1\",\"window_start\":\"2026-11-22T23:59:00Z\"}", CONTEXT));
        assertEquals(
                "dt=2026-11-23/hour=00",
                assigner.getBucketId("{\"window_start\": \"2026-11-23T00:00:00Z\"}", CONTEXT));
    }

    @Test
    void aRecordWithoutAReadableStartFallsBackToProcessingTime() {
        assertEquals("dt=2026-11-23/hour=10", assigner.getBucketId("{\"count\":3}", CONTEXT));
        assertEquals("dt=2026-11-23/hour=10", assigner.getBucketId("not json", CONTEXT));
        assertEquals(
                "dt=2026-11-23/hour=10",
                assigner.getBucketId("{\"window_start\":\"yesterday\"}", CONTEXT));
        assertEquals("dt=2026-11-23/hour=10", assigner.getBucketId("", CONTEXT));
    }

    @Test
    void bucketIdsSurviveTheirSerializer() throws Exception {
        String bucket = "dt=2026-11-23/hour=10";
        var serializer = assigner.getSerializer();
        assertEquals(
                bucket,
                serializer.deserialize(serializer.getVersion(), serializer.serialize(bucket)));
    }
}
