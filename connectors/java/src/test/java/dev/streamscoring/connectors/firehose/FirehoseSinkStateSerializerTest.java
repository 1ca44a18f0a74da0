package dev.streamscoring.connectors.firehose;

import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.RequestEntryWrapper;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.firehose.model.Record;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

class FirehoseSinkStateSerializerTest {

    @Test
    void firehoseSinkStateRoundTrip() throws Exception {
        Record record = Record.builder().data(SdkBytes.fromUtf8String("line\n")).build();
        FirehoseSinkStateSerializer serializer = new FirehoseSinkStateSerializer();
        BufferedRequestState<Record> state =
                new BufferedRequestState<>(Arrays.asList(new RequestEntryWrapper<>(record, 5L)));
        BufferedRequestState<Record> restored =
                serializer.deserialize(serializer.getVersion(), serializer.serialize(state));
        assertArrayEquals(
                "line\n".getBytes(StandardCharsets.UTF_8),
                restored.getBufferedRequestEntries().get(0).getRequestEntry().data().asByteArray());
    }
}
