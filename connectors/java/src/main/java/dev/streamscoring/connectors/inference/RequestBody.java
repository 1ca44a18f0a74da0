package dev.streamscoring.connectors.inference;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;

/**
 * The body of one model request, built instance by instance as records arrive: CSV lines
 * ({@code text/csv}) or a JSON object holding the instances under a key ({@code
 * application/json}), byte for byte as the Python codec ({@code udfs.inference.codecs.Codec})
 * encodes them.
 */
public final class RequestBody implements Serializable {

    private static final long serialVersionUID = 1L;

    public static final String CSV = "text/csv";
    public static final String JSON = "application/json";

    private final boolean csv;
    private final String jsonPrefix;
    private transient StringBuilder text;
    private int instances;

    public RequestBody(String contentType, String instancesKey) {
        if (!CSV.equals(contentType) && !JSON.equals(contentType)) {
            throw new IllegalArgumentException("unknown content type " + contentType);
        }
        this.csv = CSV.equals(contentType);
        StringBuilder prefix = new StringBuilder("{");
        JsonText.appendString(prefix, instancesKey);
        this.jsonPrefix = prefix.append(":[").toString();
    }

    /** Adds one instance, its features in order. */
    public void add(double[] features) {
        StringBuilder out = text();
        if (csv) {
            if (instances > 0) {
                out.append('\n');
            }
            for (int i = 0; i < features.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                PythonFloatText.appendRepr(out, features[i]);
            }
        } else {
            out.append(instances == 0 ? jsonPrefix : ",").append('[');
            for (int i = 0; i < features.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                PythonFloatText.appendJson(out, features[i]);
            }
            out.append(']');
        }
        instances++;
    }

    public int instances() {
        return instances;
    }

    /** The body of the instances added since the last call; starts the next body. */
    public byte[] finish() {
        StringBuilder out = text();
        if (!csv) {
            out.append(instances == 0 ? jsonPrefix : "").append("]}");
        }
        byte[] body = out.toString().getBytes(StandardCharsets.UTF_8);
        out.setLength(0);
        instances = 0;
        return body;
    }

    private StringBuilder text() {
        if (text == null) {
            text = new StringBuilder(4096);
        }
        return text;
    }
}
