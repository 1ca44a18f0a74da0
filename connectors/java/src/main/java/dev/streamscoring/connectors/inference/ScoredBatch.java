package dev.streamscoring.connectors.inference;

import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.types.Row;

import java.io.IOException;

/**
 * A batch's outcome back from the Python scoring function, turned into one row per record: the
 * outcome row holds the batch's {@code records} (bytes, as {@link BatchCollector} wrote them), one
 * prediction per record (double[]), the index of each record's failure reason (int[], -1 for a
 * scored record; empty when all were scored) and the reasons (String[]).
 *
 * <p>Each record's row: {@code ok}, {@code line} (its dead letter, stage {@code inference}, when
 * not ok), the key fields, the carried numeric fields and the prediction (null when not ok); with
 * a {@link Rollout}, then the variant that made the prediction and the shadow's prediction, read
 * from the outcome's {@code variants} (String[], "" for none, empty when the answers named none)
 * and {@code shadow} (double[], NaN for none, empty when the shadow scored none in time).
 */
final class ScoredBatch {

    /** Takes each record's row with the record's own timestamp. */
    interface RecordSink {
        void accept(Row row, long timestamp);
    }

    private static final String[] NO_VARIANTS = new String[0];
    private static final double[] NO_SHADOW = new double[0];

    private final RecordLayout layout;
    private final Rollout rollout;

    ScoredBatch(RecordLayout layout) {
        this(layout, Rollout.NONE);
    }

    ScoredBatch(RecordLayout layout, Rollout rollout) {
        this.layout = layout;
        this.rollout = rollout;
    }

    void emit(Row outcome, RecordSink sink) throws IOException {
        byte[] records = (byte[]) outcome.getField(0);
        double[] predictions = (double[]) outcome.getField(1);
        int[] failures = (int[]) outcome.getField(2);
        String[] reasons = (String[]) outcome.getField(3);
        String[] variants = outcome.getArity() > 4 ? (String[]) outcome.getField(4) : NO_VARIANTS;
        double[] shadow = outcome.getArity() > 5 ? (double[]) outcome.getField(5) : NO_SHADOW;
        if (failures.length != 0 && failures.length != predictions.length) {
            throw new IllegalStateException(
                    failures.length + " failure entries for " + predictions.length + " records");
        }
        DataInputDeserializer in = new DataInputDeserializer(records);
        for (int i = 0; i < predictions.length; i++) {
            RecordLayout.CarriedRecord record = layout.read(in);
            int failure = failures.length == 0 ? -1 : failures[i];
            Row row = row(record, failure < 0 ? null : reasons[failure], predictions[i]);
            if (failure < 0) {
                rollout.set(row, at(variants, i), at(shadow, i));
            }
            sink.accept(row, record.timestamp);
        }
        if (in.available() != 0) {
            throw new IllegalStateException("a batch came back with more records than predictions");
        }
    }

    private static String at(String[] variants, int i) {
        return i < variants.length && !variants[i].isEmpty() ? variants[i] : null;
    }

    private static Double at(double[] shadow, int i) {
        return i < shadow.length && !Double.isNaN(shadow[i]) ? shadow[i] : null;
    }

    private Row row(RecordLayout.CarriedRecord record, String reason, double prediction) {
        Row row = new Row(3 + layout.keyCount() + layout.valueCount() + rollout.columns());
        row.setField(0, reason == null);
        row.setField(1, reason == null ? null : deadLetter(record, reason));
        int at = 2;
        for (String key : record.keys) {
            row.setField(at++, key);
        }
        for (Double value : record.values) {
            row.setField(at++, value);
        }
        row.setField(at, reason == null ? prediction : null);
        return row;
    }

    /** The dead-letter line, field for field as {@code udfs.dead_letters.line} writes it. */
    static String deadLetter(RecordLayout.CarriedRecord record, String reason) {
        StringBuilder line = new StringBuilder(record.payload.length() + reason.length() + 96);
        line.append("{\"payload\":");
        JsonText.appendString(line, record.payload);
        line.append(",\"stage\":\"inference\",\"reason\":");
        JsonText.appendString(line, reason);
        line.append(",\"arrival_time\":");
        JsonText.appendString(line, record.arrival);
        return line.append('}').toString();
    }
}
