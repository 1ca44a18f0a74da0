package dev.streamscoring.connectors.inference;

import org.apache.flink.types.Row;

import java.io.Serializable;

/**
 * Which columns a model rollout adds to each scored record after its prediction: the variant
 * that made it, and the shadow model's prediction.
 */
public final class Rollout implements Serializable {

    private static final long serialVersionUID = 1L;

    static final Rollout NONE = new Rollout(false, false);

    private final boolean variant;
    private final boolean shadow;

    public Rollout(boolean variant, boolean shadow) {
        this.variant = variant;
        this.shadow = shadow;
    }

    int columns() {
        return (variant ? 1 : 0) + (shadow ? 1 : 0);
    }

    /** Sets the rollout's columns, the last ones of {@code row}. */
    void set(Row row, String variantName, Double shadowPrediction) {
        int at = row.getArity() - columns();
        if (variant) {
            row.setField(at++, variantName);
        }
        if (shadow) {
            row.setField(at, shadowPrediction);
        }
    }
}
