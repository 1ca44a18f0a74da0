package dev.streamscoring.connectors.kinesis;

/**
 * Mutable progress of a split inside a reader: the sequence number of the last record emitted
 * downstream. A checkpoint turns it back into a split that resumes right after that record.
 */
final class KinesisShardSplitState {

    private final KinesisShardSplit split;
    private String lastEmittedSequenceNumber;

    KinesisShardSplitState(KinesisShardSplit split) {
        this.split = split;
    }

    void setLastEmittedSequenceNumber(String sequenceNumber) {
        this.lastEmittedSequenceNumber = sequenceNumber;
    }

    String getShardId() {
        return split.getShardId();
    }

    /**
     * Records the last emitted user record. Until positions inside a KPL aggregate can be
     * checkpointed, only completed Kinesis records move the position.
     */
    void setLastEmitted(String sequenceNumber, long subSequenceNumber, boolean lastOfRecord) {
        if (lastOfRecord) {
            setLastEmittedSequenceNumber(sequenceNumber);
        }
    }

    /** Whether a user record was emitted before the split was checkpointed; see setLastEmitted. */
    boolean alreadyEmitted(String sequenceNumber, long subSequenceNumber) {
        return false;
    }

    /** The split to checkpoint: the original one until a record has been emitted. */
    KinesisShardSplit toSplit() {
        if (lastEmittedSequenceNumber == null) {
            return split;
        }
        return new KinesisShardSplit(
                split.getShardId(),
                StartingPosition.afterSequenceNumber(lastEmittedSequenceNumber));
    }
}
