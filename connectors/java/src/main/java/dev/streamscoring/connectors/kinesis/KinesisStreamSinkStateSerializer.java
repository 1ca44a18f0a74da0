package dev.streamscoring.connectors.kinesis;

import org.apache.flink.connector.base.sink.writer.AsyncSinkWriterStateSerializer;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** Versioned format of the PutRecords entries buffered by {@link KinesisStreamSink} writers. */
final class KinesisStreamSinkStateSerializer
        extends AsyncSinkWriterStateSerializer<PutRecordsRequestEntry> {

    private static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    protected void serializeRequestToStream(PutRecordsRequestEntry entry, DataOutputStream out)
            throws IOException {
        byte[] data = entry.data().asByteArrayUnsafe();
        out.writeInt(data.length);
        out.write(data);
        out.writeUTF(entry.partitionKey());
        out.writeBoolean(entry.explicitHashKey() != null);
        if (entry.explicitHashKey() != null) {
            out.writeUTF(entry.explicitHashKey());
        }
    }

    @Override
    protected PutRecordsRequestEntry deserializeRequestFromStream(
            long requestSize, DataInputStream in) throws IOException {
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        String partitionKey = in.readUTF();
        String explicitHashKey = in.readBoolean() ? in.readUTF() : null;
        return PutRecordsRequestEntry.builder()
                .data(SdkBytes.fromByteArrayUnsafe(data))
                .partitionKey(partitionKey)
                .explicitHashKey(explicitHashKey)
                .build();
    }
}
