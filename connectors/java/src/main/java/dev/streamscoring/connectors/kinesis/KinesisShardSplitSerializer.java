package dev.streamscoring.connectors.kinesis;

import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Instant;

/** Versioned binary format of {@link KinesisShardSplit}, used in reader checkpoints. */
public final class KinesisShardSplitSerializer
        implements SimpleVersionedSerializer<KinesisShardSplit> {

    static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(KinesisShardSplit split) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            write(split, out);
        }
        return bytes.toByteArray();
    }

    @Override
    public KinesisShardSplit deserialize(int version, byte[] serialized) throws IOException {
        checkVersion(version);
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            return read(in);
        }
    }

    static void checkVersion(int version) throws IOException {
        if (version != VERSION) {
            throw new IOException(
                    "Unknown Kinesis shard split version "
                            + version
                            + " (supported: "
                            + VERSION
                            + ")");
        }
    }

    /** Writes a split in the current version's layout. */
    static void write(KinesisShardSplit split, DataOutput out) throws IOException {
        StartingPosition position = split.getStartingPosition();
        out.writeUTF(split.getShardId());
        out.writeUTF(position.getType().name());
        switch (position.getType()) {
            case AFTER_SEQUENCE_NUMBER:
                out.writeUTF(position.getSequenceNumber());
                break;
            case AT_TIMESTAMP:
                out.writeLong(position.getTimestamp().getEpochSecond());
                out.writeInt(position.getTimestamp().getNano());
                break;
            default:
                break;
        }
    }

    /** Reads a split written by {@link #write}. */
    static KinesisShardSplit read(DataInput in) throws IOException {
        String shardId = in.readUTF();
        String typeName = in.readUTF();
        StartingPosition position;
        switch (StartingPosition.Type.valueOf(typeName)) {
            case AFTER_SEQUENCE_NUMBER:
                position = StartingPosition.afterSequenceNumber(in.readUTF());
                break;
            case AT_TIMESTAMP:
                position =
                        StartingPosition.atTimestamp(
                                Instant.ofEpochSecond(in.readLong(), in.readInt()));
                break;
            case TRIM_HORIZON:
                position = StartingPosition.trimHorizon();
                break;
            case LATEST:
            default:
                position = StartingPosition.latest();
                break;
        }
        return new KinesisShardSplit(shardId, position);
    }
}
