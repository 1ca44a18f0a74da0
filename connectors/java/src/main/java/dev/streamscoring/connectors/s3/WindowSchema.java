package dev.streamscoring.connectors.s3;

import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The columns of the window records, in output order, as the job's configuration declares them:
 * the Parquet files get exactly these typed columns whatever the JSON line carries besides.
 */
final class WindowSchema implements Serializable {

    private static final long serialVersionUID = 1L;
    static final String MESSAGE_NAME = "window";

    private final String[] names;
    private final ColumnType[] types;

    private WindowSchema(String[] names, ColumnType[] types) {
        this.names = names;
        this.types = types;
    }

    /** {@code types} are Glue type names (string, timestamp, bigint, double), one per name. */
    static WindowSchema of(String[] names, String[] types) {
        if (names.length != types.length) {
            throw new IllegalArgumentException(
                    names.length + " column names but " + types.length + " column types");
        }
        if (names.length == 0) {
            throw new IllegalArgumentException("a window schema needs at least one column");
        }
        Set<String> seen = new LinkedHashSet<>();
        ColumnType[] parsed = new ColumnType[types.length];
        for (int i = 0; i < names.length; i++) {
            if (!seen.add(names[i])) {
                throw new IllegalArgumentException("column '" + names[i] + "' appears twice");
            }
            parsed[i] = ColumnType.ofGlueName(types[i]);
        }
        return new WindowSchema(names.clone(), parsed);
    }

    int size() {
        return names.length;
    }

    String name(int index) {
        return names[index];
    }

    ColumnType type(int index) {
        return types[index];
    }

    MessageType parquetSchema() {
        List<Type> fields = new ArrayList<>(names.length);
        for (int i = 0; i < names.length; i++) {
            fields.add(types[i].parquetField(names[i]));
        }
        return new MessageType(MESSAGE_NAME, Collections.unmodifiableList(fields));
    }
}
