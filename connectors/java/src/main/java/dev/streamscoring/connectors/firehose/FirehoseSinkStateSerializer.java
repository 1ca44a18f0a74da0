package dev.streamscoring.connectors.firehose;

import org.apache.flink.connector.base.sink.writer.AsyncSinkWriterStateSerializer;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.firehose.model.Record;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** Versioned format of the records buffered by {@link FirehoseSink} writers. */
final class FirehoseSinkStateSerializer extends AsyncSinkWriterStateSerializer<Record> {

    private static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    protected void serializeRequestToStream(Record record, DataOutputStream out)
            throws IOException {
        byte[] data = record.data().asByteArrayUnsafe();
        out.writeInt(data.length);
        out.write(data);
    }

    @Override
    protected Record deserializeRequestFromStream(long requestSize, DataInputStream in)
            throws IOException {
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return Record.builder().data(SdkBytes.fromByteArrayUnsafe(data)).build();
    }
}
