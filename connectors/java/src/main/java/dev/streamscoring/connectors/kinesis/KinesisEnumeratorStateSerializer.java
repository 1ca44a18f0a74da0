package dev.streamscoring.connectors.kinesis;

import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Versioned binary format of {@link KinesisEnumeratorState}. Splits inside it are written in the
 * {@link KinesisShardSplitSerializer} layout, whose version is recorded alongside.
 *
 * <p>Version 1: assigned shard ids and unassigned splits. Version 2 adds whether the initial
 * discovery is done, the owner of each assigned shard, and the finished and vanished shards.
 */
public final class KinesisEnumeratorStateSerializer
        implements SimpleVersionedSerializer<KinesisEnumeratorState> {

    static final int VERSION = 2;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(KinesisEnumeratorState state) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(KinesisShardSplitSerializer.VERSION);
            out.writeBoolean(state.isInitialDiscoveryDone());
            out.writeInt(state.getAssignedShardOwners().size());
            for (Map.Entry<String, Integer> assigned : state.getAssignedShardOwners().entrySet()) {
                out.writeUTF(assigned.getKey());
                out.writeInt(assigned.getValue());
            }
            out.writeInt(state.getUnassignedSplits().size());
            for (KinesisShardSplit split : state.getUnassignedSplits()) {
                KinesisShardSplitSerializer.write(split, out);
            }
            writeIds(state.getFinishedShardIds(), out);
            writeIds(state.getVanishedShardIds(), out);
        }
        return bytes.toByteArray();
    }

    @Override
    public KinesisEnumeratorState deserialize(int version, byte[] serialized) throws IOException {
        if (version != 1 && version != VERSION) {
            throw new IOException(
                    "Unknown Kinesis enumerator state version "
                            + version
                            + " (supported: 1 and "
                            + VERSION
                            + ")");
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            int splitVersion = in.readInt();
            KinesisShardSplitSerializer.checkVersion(splitVersion);
            return version == 1 ? readVersion1(in, splitVersion) : readVersion2(in, splitVersion);
        }
    }

    private static KinesisEnumeratorState readVersion2(DataInput in, int splitVersion)
            throws IOException {
        boolean initialDiscoveryDone = in.readBoolean();
        int assignedCount = in.readInt();
        Map<String, Integer> assigned = new LinkedHashMap<>(assignedCount * 2);
        for (int i = 0; i < assignedCount; i++) {
            assigned.put(in.readUTF(), in.readInt());
        }
        List<KinesisShardSplit> unassigned = readSplits(in, splitVersion);
        Set<String> finished = readIds(in);
        Set<String> vanished = readIds(in);
        return new KinesisEnumeratorState(
                initialDiscoveryDone, assigned, unassigned, finished, vanished);
    }

    /**
     * Version 1 did not record owners nor finished shards: its assigned shards get {@link
     * KinesisEnumeratorState#UNKNOWN_OWNER}, and it had discovered shards iff it knew of any.
     */
    private static KinesisEnumeratorState readVersion1(DataInput in, int splitVersion)
            throws IOException {
        Set<String> assignedIds = readIds(in);
        Map<String, Integer> assigned = new LinkedHashMap<>(assignedIds.size() * 2);
        for (String shardId : assignedIds) {
            assigned.put(shardId, KinesisEnumeratorState.UNKNOWN_OWNER);
        }
        List<KinesisShardSplit> unassigned = readSplits(in, splitVersion);
        boolean initialDiscoveryDone = !assigned.isEmpty() || !unassigned.isEmpty();
        return new KinesisEnumeratorState(
                initialDiscoveryDone,
                assigned,
                unassigned,
                new LinkedHashSet<>(),
                new LinkedHashSet<>());
    }

    private static List<KinesisShardSplit> readSplits(DataInput in, int splitVersion)
            throws IOException {
        int count = in.readInt();
        List<KinesisShardSplit> splits = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            splits.add(KinesisShardSplitSerializer.read(in, splitVersion));
        }
        return splits;
    }

    private static void writeIds(Set<String> ids, DataOutput out) throws IOException {
        out.writeInt(ids.size());
        for (String id : ids) {
            out.writeUTF(id);
        }
    }

    private static Set<String> readIds(DataInput in) throws IOException {
        int count = in.readInt();
        Set<String> ids = new LinkedHashSet<>(count * 2);
        for (int i = 0; i < count; i++) {
            ids.add(in.readUTF());
        }
        return ids;
    }
}
