package dev.streamscoring.connectors.inference;

import org.apache.flink.api.common.typeinfo.BasicArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.types.Row;

/**
 * The Java operators around the Python scoring function, as the job wires them: records into
 * batches before it, batches back into records after it. The types are the boundary with Python:
 * bytes, primitive arrays and strings only, which PyFlink moves without building objects per
 * record.
 */
public final class InferenceStreams {

    /** What crosses into Python: {@code body}, {@code count}, {@code records}. */
    public static final TypeInformation<Row> BATCH =
            Types.ROW_NAMED(
                    new String[] {"body", "count", "records"},
                    PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO,
                    Types.INT,
                    PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);

    /**
     * What comes back: {@code records}, {@code predictions}, {@code failures}, {@code reasons},
     * {@code variants}, {@code shadow} (see {@link ScoredBatch}).
     */
    public static final TypeInformation<Row> OUTCOME =
            Types.ROW_NAMED(
                    new String[] {"records", "predictions", "failures", "reasons", "variants", "shadow"},
                    PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO,
                    PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO,
                    PrimitiveArrayTypeInfo.INT_PRIMITIVE_ARRAY_TYPE_INFO,
                    BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO,
                    BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO,
                    PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO);

    private InferenceStreams() {}

    public static DataStream<Row> batches(
            DataStream<Row> records,
            RecordLayout layout,
            RequestBody body,
            int batchSize,
            long maxDelayMs) {
        return records.transform(
                        "Batch for inference",
                        BATCH,
                        new InferenceBatcher(layout, body, batchSize, maxDelayMs))
                .uid("inference-batcher");
    }

    /**
     * One row per record: {@code ok} (BOOLEAN), {@code line} (STRING), the key fields (STRING),
     * the carried numeric fields and the prediction (DOUBLE), named {@code names} in that order.
     */
    public static DataStream<Row> records(DataStream<Row> outcomes, RecordLayout layout, String... names) {
        return scoredRecords(outcomes, layout, false, false, names);
    }

    /**
     * {@link #records}, and after the prediction the variant that made it ({@code variant}, STRING)
     * and the shadow's prediction ({@code shadow}, DOUBLE), each column only when asked for.
     */
    public static DataStream<Row> scoredRecords(
            DataStream<Row> outcomes, RecordLayout layout, boolean variant, boolean shadow, String... names) {
        Rollout rollout = new Rollout(variant, shadow);
        TypeInformation<?>[] types = new TypeInformation<?>[names.length];
        types[0] = Types.BOOLEAN;
        types[1] = Types.STRING;
        int prediction = 2 + layout.keyCount() + layout.valueCount();
        for (int i = 2; i < types.length; i++) {
            types[i] = i < 2 + layout.keyCount() ? Types.STRING : Types.DOUBLE;
        }
        if (names.length != prediction + 1 + rollout.columns()) {
            throw new IllegalArgumentException(names.length + " names for the scored records' columns");
        }
        if (variant) {
            types[prediction + 1] = Types.STRING;
        }
        return outcomes.transform(
                        "Unbatch predictions",
                        Types.ROW_NAMED(names, types),
                        new PredictionUnbatcher(layout, rollout))
                .uid("inference-unbatcher");
    }
}
