package dev.streamscoring.connectors.kinesis;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.Collector;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * A {@link KinesisRecordDeserializer} over a plain {@link DeserializationSchema}: user records go
 * to the schema; corrupt aggregates, which the schema has no way to express, are logged and
 * counted ({@code corruptAggregates} in the reader's {@code deserializer} metric group).
 */
final class DeserializationSchemaAdapter<T> implements KinesisRecordDeserializer<T> {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(DeserializationSchemaAdapter.class);

    private final DeserializationSchema<T> schema;
    private transient Counter corruptAggregates;

    DeserializationSchemaAdapter(DeserializationSchema<T> schema) {
        this.schema = schema;
    }

    @Override
    public void open(DeserializationSchema.InitializationContext context) throws Exception {
        corruptAggregates = context.getMetricGroup().counter("corruptAggregates");
        schema.open(context);
    }

    @Override
    public void deserialize(byte[] userRecordData, KinesisRecordMetadata metadata, Collector<T> out)
            throws IOException {
        schema.deserialize(userRecordData, out);
    }

    @Override
    public void corrupt(
            byte[] rawRecordData, String reason, KinesisRecordMetadata metadata, Collector<T> out) {
        if (corruptAggregates != null) {
            corruptAggregates.inc();
        }
        LOG.warn("Skipping record {} ({} bytes): {}", metadata, rawRecordData.length, reason);
    }

    @Override
    public TypeInformation<T> getProducedType() {
        return schema.getProducedType();
    }
}
