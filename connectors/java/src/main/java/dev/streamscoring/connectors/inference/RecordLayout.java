package dev.streamscoring.connectors.inference;

import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.Row;
import org.apache.flink.types.StringValue;

import java.io.IOException;
import java.io.Serializable;

/**
 * Where a parsed record's fields are in its row, and the compact form in which a record rides
 * along with its batch: event time, payload and arrival time (for a dead letter), key fields and
 * the carried numeric fields. Features are not carried: they are in the request body.
 */
public final class RecordLayout implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Timestamp written for a record that has none. */
    static final long NO_TIMESTAMP = Long.MIN_VALUE;

    private final int payload;
    private final int arrival;
    private final int[] keys;
    private final int[] values;
    private final int[] features;

    public RecordLayout(int payload, int arrival, int[] keys, int[] values, int[] features) {
        this.payload = payload;
        this.arrival = arrival;
        this.keys = keys.clone();
        this.values = values.clone();
        this.features = features.clone();
    }

    int keyCount() {
        return keys.length;
    }

    int valueCount() {
        return values.length;
    }

    /** The record's features into {@code into}, which has one place per feature. */
    double[] features(Row row, double[] into) {
        for (int i = 0; i < features.length; i++) {
            into[i] = ((Number) row.getField(features[i])).doubleValue();
        }
        return into;
    }

    int featureCount() {
        return features.length;
    }

    void write(Row row, long timestamp, DataOutputView out) throws IOException {
        out.writeLong(timestamp);
        StringValue.writeString((CharSequence) row.getField(payload), out);
        StringValue.writeString((CharSequence) row.getField(arrival), out);
        for (int key : keys) {
            StringValue.writeString((CharSequence) row.getField(key), out);
        }
        for (int value : values) {
            Object number = row.getField(value);
            out.writeBoolean(number != null);
            if (number != null) {
                out.writeDouble(((Number) number).doubleValue());
            }
        }
    }

    /** A record as {@link #write} wrote it. */
    CarriedRecord read(DataInputView in) throws IOException {
        long timestamp = in.readLong();
        String payloadText = StringValue.readString(in);
        String arrivalText = StringValue.readString(in);
        String[] keyTexts = new String[keys.length];
        for (int i = 0; i < keyTexts.length; i++) {
            keyTexts[i] = StringValue.readString(in);
        }
        Double[] numbers = new Double[values.length];
        for (int i = 0; i < numbers.length; i++) {
            numbers[i] = in.readBoolean() ? in.readDouble() : null;
        }
        return new CarriedRecord(timestamp, payloadText, arrivalText, keyTexts, numbers);
    }

    /** A record read back from its batch. */
    static final class CarriedRecord {
        final long timestamp;
        final String payload;
        final String arrival;
        final String[] keys;
        final Double[] values;

        CarriedRecord(long timestamp, String payload, String arrival, String[] keys, Double[] values) {
            this.timestamp = timestamp;
            this.payload = payload;
            this.arrival = arrival;
            this.keys = keys;
            this.values = values;
        }
    }
}
