package dev.streamscoring.connectors.inference;

import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.types.Row;

import java.io.IOException;

/**
 * The batch being filled: its request body and its records, both written as each record arrives,
 * so no record object is held (the job reuses them). A drained batch is a row of {@code body}
 * (bytes), {@code count} (int) and {@code records} (bytes), the element that crosses into Python.
 */
final class BatchCollector {

    private final RecordLayout layout;
    private final RequestBody body;
    private final int size;
    private final double[] features;
    private final DataOutputSerializer records = new DataOutputSerializer(8192);

    BatchCollector(RecordLayout layout, RequestBody body, int size) {
        this.layout = layout;
        this.body = body;
        this.size = size;
        this.features = new double[layout.featureCount()];
    }

    /** Adds a record; true when the batch is full. */
    boolean add(Row row, long timestamp) throws IOException {
        body.add(layout.features(row, features));
        layout.write(row, timestamp, records);
        return body.instances() >= size;
    }

    boolean isEmpty() {
        return body.instances() == 0;
    }

    /** The batch as the row handed to Python; starts an empty one. */
    Row drain() {
        int count = body.instances();
        Row batch = Row.of(body.finish(), count, records.getCopyOfBuffer());
        records.clear();
        return batch;
    }
}
