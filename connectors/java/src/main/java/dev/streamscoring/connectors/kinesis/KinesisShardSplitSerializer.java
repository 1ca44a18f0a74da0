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
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Versioned binary format of {@link KinesisShardSplit}, used in reader checkpoints and inside the
 * enumerator state.
 *
 * <p>Version 1: shard id and start position. Version 2 adds AT_SEQUENCE_NUMBER positions with a
 * sub-sequence number, the parent shard ids, the hash key range and the finish status.
 */
public final class KinesisShardSplitSerializer
        implements SimpleVersionedSerializer<KinesisShardSplit> {

    static final int VERSION = 2;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(KinesisShardSplit split) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(96);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            write(split, out);
        }
        return bytes.toByteArray();
    }

    @Override
    public KinesisShardSplit deserialize(int version, byte[] serialized) throws IOException {
        checkVersion(version);
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            return read(in, version);
        }
    }

    static void checkVersion(int version) throws IOException {
        if (version < 1 || version > VERSION) {
            throw new IOException(
                    "Unknown Kinesis shard split version "
                            + version
                            + " (supported: 1 to "
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
            case AT_SEQUENCE_NUMBER:
                out.writeUTF(position.getSequenceNumber());
                out.writeLong(position.getSubSequenceNumber());
                break;
            case AT_TIMESTAMP:
                out.writeLong(position.getTimestamp().getEpochSecond());
                out.writeInt(position.getTimestamp().getNano());
                break;
            default:
                break;
        }
        out.writeInt(split.getParentShardIds().size());
        for (String parent : split.getParentShardIds()) {
            out.writeUTF(parent);
        }
        boolean hasHashKeyRange =
                split.getStartingHashKey() != null && split.getEndingHashKey() != null;
        out.writeBoolean(hasHashKeyRange);
        if (hasHashKeyRange) {
            out.writeUTF(split.getStartingHashKey());
            out.writeUTF(split.getEndingHashKey());
        }
        out.writeUTF(split.getStatus().name());
    }

    /** Reads a split written by {@link #write} of the given version. */
    static KinesisShardSplit read(DataInput in, int version) throws IOException {
        checkVersion(version);
        String shardId = in.readUTF();
        StartingPosition position = readPosition(in);
        if (version == 1) {
            // A version 1 split that had not emitted a record yet may still say LATEST. Which
            // records arrived since it was first resolved is unknown, so it keeps meaning "from
            // when the iterator is taken": records that arrived while the job was down are skipped.
            return new KinesisShardSplit(shardId, position);
        }
        int parentCount = in.readInt();
        Set<String> parents =
                parentCount == 0 ? Collections.emptySet() : new LinkedHashSet<>(parentCount * 2);
        for (int i = 0; i < parentCount; i++) {
            parents.add(in.readUTF());
        }
        String startingHashKey = null;
        String endingHashKey = null;
        if (in.readBoolean()) {
            startingHashKey = in.readUTF();
            endingHashKey = in.readUTF();
        }
        KinesisShardSplit.Status status = KinesisShardSplit.Status.valueOf(in.readUTF());
        return new KinesisShardSplit(
                shardId, position, parents, startingHashKey, endingHashKey, status);
    }

    private static StartingPosition readPosition(DataInput in) throws IOException {
        switch (StartingPosition.Type.valueOf(in.readUTF())) {
            case AFTER_SEQUENCE_NUMBER:
                return StartingPosition.afterSequenceNumber(in.readUTF());
            case AT_SEQUENCE_NUMBER:
                return StartingPosition.atSequenceNumber(in.readUTF(), in.readLong());
            case AT_TIMESTAMP:
                return StartingPosition.atTimestamp(
                        Instant.ofEpochSecond(in.readLong(), in.readInt()));
            case TRIM_HORIZON:
                return StartingPosition.trimHorizon();
            case LATEST:
            default:
                return StartingPosition.latest();
        }
    }
}
