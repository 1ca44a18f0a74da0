package dev.streamscoring.connectors.kinesis;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The closed shards a reader has read to their end but keeps open, shared by the split reader
 * (fetcher thread) and the source reader (task thread). An open split keeps its last watermark in
 * the subtask's combined watermark; finishing it as soon as it is drained would let that watermark
 * jump ahead, driven by the other shards, before the children (whose records follow the parent's)
 * are assigned.
 *
 * <p>The split reader announces a drained shard once the records of its last fetch were emitted;
 * the source reader tells the enumerator and, once the children are assigned, releases the shard;
 * the split reader then finishes its split.
 */
final class ShardHolds {

    /** A closed shard read to its end, with the children Kinesis named for it. */
    static final class Drained {
        final String shardId;
        final Set<String> childShardIds;

        Drained(String shardId, Set<String> childShardIds) {
            this.shardId = shardId;
            this.childShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(childShardIds));
        }

        @Override
        public String toString() {
            return shardId + " -> " + childShardIds;
        }
    }

    private final Queue<Drained> drained = new ConcurrentLinkedQueue<>();
    private final Set<String> released = ConcurrentHashMap.newKeySet();
    private volatile Runnable releaseListener = () -> {};

    /** Called once the records a shard was read to its end with have been emitted. */
    void drained(Drained shard) {
        drained.add(shard);
    }

    /** The shards drained since the last call, for the enumerator. */
    List<Drained> takeDrained() {
        List<Drained> taken = new ArrayList<>();
        Drained shard;
        while ((shard = drained.poll()) != null) {
            taken.add(shard);
        }
        return taken;
    }

    /** Lets the split reader finish a drained shard's split, and wakes it to do so. */
    void release(String shardId) {
        released.add(shardId);
        releaseListener.run();
    }

    boolean isReleased(String shardId) {
        return released.contains(shardId);
    }

    /** Consumes a release; true if the shard had been released. */
    boolean takeRelease(String shardId) {
        return released.remove(shardId);
    }

    /** The split reader to wake on a release; a newer split reader replaces an older one. */
    void onRelease(Runnable listener) {
        this.releaseListener = listener;
    }
}
