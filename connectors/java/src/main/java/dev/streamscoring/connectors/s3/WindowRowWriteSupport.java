package dev.streamscoring.connectors.s3;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.conf.ParquetConfiguration;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.Collections;

/**
 * Writes one window record, a JSON object as the job's SQL and inference stage emit it, as one
 * Parquet row of the {@link WindowSchema}. A value that does not fit its column's type fails the
 * write: the schema comes from the same configuration as the SQL, so a mismatch is a bug to see,
 * not data to drop.
 */
final class WindowRowWriteSupport extends WriteSupport<String> {

    private final WindowSchema schema;
    private final ObjectMapper json = new ObjectMapper();
    private RecordConsumer consumer;

    WindowRowWriteSupport(WindowSchema schema) {
        this.schema = schema;
    }

    // Hadoop's Configuration only names the parameter: the writer is built with a
    // ParquetConfiguration, so this overload never runs and Hadoop need not be on the classpath.
    @Override
    public WriteContext init(Configuration configuration) {
        return context();
    }

    @Override
    public WriteContext init(ParquetConfiguration configuration) {
        return context();
    }

    private WriteContext context() {
        return new WriteContext(schema.parquetSchema(), Collections.emptyMap());
    }

    @Override
    public void prepareForWrite(RecordConsumer recordConsumer) {
        this.consumer = recordConsumer;
    }

    @Override
    public void write(String line) {
        JsonNode record;
        try {
            record = json.readTree(line);
        } catch (IOException e) {
            throw new UncheckedIOException("a window record is not JSON: " + line, e);
        }
        if (record == null || !record.isObject()) {
            throw new IllegalArgumentException("a window record is not a JSON object: " + line);
        }
        consumer.startMessage();
        for (int i = 0; i < schema.size(); i++) {
            JsonNode value = record.get(schema.name(i));
            if (value == null || value.isNull()) {
                continue;
            }
            consumer.startField(schema.name(i), i);
            writeValue(schema.type(i), schema.name(i), value);
            consumer.endField(schema.name(i), i);
        }
        consumer.endMessage();
    }

    private void writeValue(ColumnType type, String name, JsonNode value) {
        switch (type) {
            case STRING:
                consumer.addBinary(Binary.fromString(value.asText()));
                break;
            case TIMESTAMP:
                consumer.addLong(Instant.parse(value.asText()).toEpochMilli());
                break;
            case BIGINT:
                if (!value.canConvertToLong() || !value.isIntegralNumber()) {
                    throw new IllegalArgumentException(name + " is not an integer: " + value);
                }
                consumer.addLong(value.longValue());
                break;
            case DOUBLE:
                if (!value.isNumber()) {
                    throw new IllegalArgumentException(name + " is not a number: " + value);
                }
                consumer.addDouble(value.doubleValue());
                break;
            default:
                throw new IllegalStateException(type.name());
        }
    }
}
