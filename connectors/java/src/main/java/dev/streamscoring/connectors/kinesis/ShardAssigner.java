package dev.streamscoring.connectors.kinesis;

import java.math.BigInteger;
import java.util.List;
import java.util.Map;

/**
 * Chooses the reader for a shard so that readers keep about the same number of unfinished shards
 * after splits and merges, and a fresh stream is spread by hash key range: the reader whose share
 * of the 128-bit hash key space holds the middle of the shard's range gets it, unless that reader
 * already has its fair share; then the least loaded reader does, searching from the preferred one.
 * The same inputs always give the same reader.
 */
final class ShardAssigner {

    private static final BigInteger HASH_KEY_SPACE = BigInteger.ONE.shiftLeft(128);

    private ShardAssigner() {}

    /**
     * @param readers the registered subtasks, in ascending order; not empty
     * @param loads unfinished shards per subtask, including those chosen in this round so far;
     *     missing means none
     * @param fairShare shards per reader once this round is assigned, rounded up
     */
    static int select(
            KinesisShardSplit split,
            List<Integer> readers,
            Map<Integer, Integer> loads,
            int fairShare) {
        if (readers.isEmpty()) {
            throw new IllegalArgumentException("No reader to assign " + split.getShardId() + " to");
        }
        int n = readers.size();
        int start = preferredIndex(split, n);
        if (loads.getOrDefault(readers.get(start), 0) < fairShare) {
            return readers.get(start);
        }
        int best = -1;
        int bestLoad = Integer.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            int reader = readers.get((start + i) % n);
            int load = loads.getOrDefault(reader, 0);
            if (load < bestLoad) {
                best = reader;
                bestLoad = load;
            }
        }
        return best;
    }

    /** The fair share of each of {@code readers} readers for this many shards. */
    static int fairShare(int shards, int readers) {
        return (shards + readers - 1) / readers;
    }

    /** Index in {@code 0..n-1} of the reader whose key space share holds the range's middle. */
    static int preferredIndex(KinesisShardSplit split, int n) {
        if (split.getStartingHashKey() == null || split.getEndingHashKey() == null) {
            return Math.floorMod(split.getShardId().hashCode(), n);
        }
        try {
            BigInteger middle =
                    new BigInteger(split.getStartingHashKey())
                            .add(new BigInteger(split.getEndingHashKey()))
                            .shiftRight(1);
            int index = middle.multiply(BigInteger.valueOf(n)).divide(HASH_KEY_SPACE).intValue();
            return Math.min(Math.max(index, 0), n - 1);
        } catch (NumberFormatException notDecimal) {
            return Math.floorMod(split.getShardId().hashCode(), n);
        }
    }
}
