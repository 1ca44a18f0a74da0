package dev.streamscoring.connectors.kinesis;

/**
 * Mutable progress of a split inside a reader: the last user record emitted downstream, by the
 * sequence number of its Kinesis record and its sub-sequence number inside a KPL aggregate. A
 * checkpoint turns it back into a split that resumes right after that user record: after the
 * Kinesis record when it was the record's last user record, else at the Kinesis record, skipping
 * the user records already emitted.
 */
final class KinesisShardSplitState {

    private final KinesisShardSplit split;
    private String lastEmittedSequenceNumber;
    private long lastEmittedSubSequenceNumber = StartingPosition.NO_SUB_SEQUENCE_NUMBER;
    private boolean lastEmittedWasLastOfRecord = true;

    KinesisShardSplitState(KinesisShardSplit split) {
        this.split = split;
    }

    String getShardId() {
        return split.getShardId();
    }

    /**
     * Records the last emitted user record.
     *
     * @param subSequenceNumber {@link StartingPosition#NO_SUB_SEQUENCE_NUMBER} for a record that is
     *     not a KPL aggregate
     * @param lastOfRecord whether no user record of the same Kinesis record follows
     */
    void setLastEmitted(String sequenceNumber, long subSequenceNumber, boolean lastOfRecord) {
        this.lastEmittedSequenceNumber = sequenceNumber;
        this.lastEmittedSubSequenceNumber = subSequenceNumber;
        this.lastEmittedWasLastOfRecord = lastOfRecord;
    }

    void setLastEmittedSequenceNumber(String sequenceNumber) {
        setLastEmitted(sequenceNumber, StartingPosition.NO_SUB_SEQUENCE_NUMBER, true);
    }

    /**
     * True for the user records of the Kinesis record this split resumes at that were emitted
     * before the checkpoint it was restored from.
     */
    boolean alreadyEmitted(String sequenceNumber, long subSequenceNumber) {
        StartingPosition start = split.getStartingPosition();
        return start.getType() == StartingPosition.Type.AT_SEQUENCE_NUMBER
                && start.getSequenceNumber().equals(sequenceNumber)
                && subSequenceNumber <= start.getSubSequenceNumber();
    }

    /** The split to checkpoint: the original one until a record has been emitted. */
    KinesisShardSplit toSplit() {
        if (lastEmittedSequenceNumber == null) {
            return split;
        }
        return split.withStartingPosition(
                lastEmittedWasLastOfRecord
                        ? StartingPosition.afterSequenceNumber(lastEmittedSequenceNumber)
                        : StartingPosition.atSequenceNumber(
                                lastEmittedSequenceNumber, lastEmittedSubSequenceNumber));
    }
}
