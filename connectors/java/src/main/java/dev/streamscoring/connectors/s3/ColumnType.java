package dev.streamscoring.connectors.s3;

import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Types;

import java.util.Locale;

/**
 * The type of one window column, named as Glue and Athena name it, and the Parquet type that
 * stores it. Every column is optional: a JSON null or a missing field becomes a Parquet null.
 */
enum ColumnType {
    STRING("string"),
    TIMESTAMP("timestamp"),
    BIGINT("bigint"),
    DOUBLE("double");

    private final String glueName;

    ColumnType(String glueName) {
        this.glueName = glueName;
    }

    static ColumnType ofGlueName(String name) {
        String wanted = name.toLowerCase(Locale.ROOT);
        for (ColumnType type : values()) {
            if (type.glueName.equals(wanted)) {
                return type;
            }
        }
        throw new IllegalArgumentException(
                "unknown column type '" + name + "'; known: string, timestamp, bigint, double");
    }

    Type parquetField(String name) {
        switch (this) {
            case STRING:
                return Types.optional(PrimitiveTypeName.BINARY)
                        .as(LogicalTypeAnnotation.stringType())
                        .named(name);
            case TIMESTAMP:
                // UTC instants in milliseconds: what Athena, Spark and DuckDB read as timestamps.
                return Types.optional(PrimitiveTypeName.INT64)
                        .as(
                                LogicalTypeAnnotation.timestampType(
                                        true, LogicalTypeAnnotation.TimeUnit.MILLIS))
                        .named(name);
            case BIGINT:
                return Types.optional(PrimitiveTypeName.INT64).named(name);
            case DOUBLE:
                return Types.optional(PrimitiveTypeName.DOUBLE).named(name);
            default:
                throw new IllegalStateException(name());
        }
    }
}
