package dev.streamscoring.connectors.kinesis;

import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Versioned binary format of {@link KinesisEnumeratorState}. Splits inside it are written in the
 * {@link KinesisShardSplitSerializer} layout, whose version is recorded alongside.
 */
public final class KinesisEnumeratorStateSerializer
        implements SimpleVersionedSerializer<KinesisEnumeratorState> {

    static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(KinesisEnumeratorState state) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(KinesisShardSplitSerializer.VERSION);
            out.writeInt(state.getAssignedShardIds().size());
            for (String shardId : state.getAssignedShardIds()) {
                out.writeUTF(shardId);
            }
            out.writeInt(state.getUnassignedSplits().size());
            for (KinesisShardSplit split : state.getUnassignedSplits()) {
                KinesisShardSplitSerializer.write(split, out);
            }
        }
        return bytes.toByteArray();
    }

    @Override
    public KinesisEnumeratorState deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION) {
            throw new IOException(
                    "Unknown Kinesis enumerator state version "
                            + version
                            + " (supported: "
                            + VERSION
                            + ")");
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            KinesisShardSplitSerializer.checkVersion(in.readInt());
            int assignedCount = in.readInt();
            Set<String> assigned = new LinkedHashSet<>(assignedCount * 2);
            for (int i = 0; i < assignedCount; i++) {
                assigned.add(in.readUTF());
            }
            int unassignedCount = in.readInt();
            List<KinesisShardSplit> unassigned = new ArrayList<>(unassignedCount);
            for (int i = 0; i < unassignedCount; i++) {
                unassigned.add(KinesisShardSplitSerializer.read(in));
            }
            return new KinesisEnumeratorState(assigned, unassigned);
        }
    }
}
