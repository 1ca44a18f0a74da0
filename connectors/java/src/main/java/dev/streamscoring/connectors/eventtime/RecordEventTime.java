package dev.streamscoring.connectors.eventtime;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Reads a record's event time (epoch ms) from its payload text exactly as the job's SQL does, so
 * that the source can timestamp records and generate watermarks per shard with the same values
 * the SQL windows use.
 *
 * <p>The SQL it mirrors: the body is the payload for JSON; for CSV it is the content of the JSON
 * string when the payload, without leading spaces, starts with {@code "} ({@code JSON_VALUE(p,
 * '$')}), else the payload without leading and trailing newlines. The field's text is {@code
 * TRIM(JSON_VALUE(body, '$.field'))} or {@code TRIM(SPLIT_INDEX(body, ',', i))}, absent when
 * empty. {@code epoch_ms} and {@code epoch_s} cast the text to DOUBLE ({@code
 * Double.parseDouble}) and truncate (after * 1000 for seconds); {@code iso8601} replaces every
 * {@code T} by a space, drops every {@code Z} and casts to TIMESTAMP(3) in UTC. Values not above
 * zero are not readable. SQL's TRIM and LTRIM remove spaces only, not other whitespace.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class RecordEventTime implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Returned when the record has no usable event time. */
    public static final long NOT_READABLE = Long.MIN_VALUE;

    private static final List<String> FORMATS = Arrays.asList("json", "csv");
    private static final List<String> TIME_FORMATS =
            Arrays.asList("epoch_ms", "epoch_s", "iso8601");

    // Jackson's factory is thread-safe and parsers are cheap; it is what JSON_VALUE parses with.
    private static final JsonFactory JSON = new JsonFactory();

    private static final int EPOCH_MS = 0;
    private static final int EPOCH_S = 1;
    private static final int ISO8601 = 2;

    private final boolean json;
    private final String field;
    private final int csvIndex;
    private final int timeFormat;

    private RecordEventTime(boolean json, String field, int csvIndex, int timeFormat) {
        this.json = json;
        this.field = field;
        this.csvIndex = csvIndex;
        this.timeFormat = timeFormat;
    }

    /**
     * An extractor for records of {@code format} ({@code json} or {@code csv} with the
     * comma-separated {@code csvColumns}) whose event time is {@code field} in {@code timeFormat}
     * ({@code epoch_ms}, {@code epoch_s} or {@code iso8601}).
     *
     * @throws IllegalArgumentException for an unknown format, or a CSV field not among the columns
     */
    public static RecordEventTime of(
            String format, String csvColumns, String field, String timeFormat) {
        String normalizedFormat = format == null ? "" : format.toLowerCase(Locale.ROOT);
        if (!FORMATS.contains(normalizedFormat)) {
            throw new IllegalArgumentException("format must be json or csv, got " + format);
        }
        int time = TIME_FORMATS.indexOf(timeFormat == null ? "" : timeFormat);
        if (time < 0) {
            throw new IllegalArgumentException(
                    "event time format must be one of " + TIME_FORMATS + ", got " + timeFormat);
        }
        if (field == null || field.isEmpty()) {
            throw new IllegalArgumentException("an event time field is required");
        }
        boolean json = normalizedFormat.equals("json");
        int csvIndex = -1;
        if (!json) {
            List<String> columns =
                    Arrays.asList(csvColumns == null ? new String[0] : csvColumns.split(",", -1));
            csvIndex = columns.indexOf(field);
            if (csvIndex < 0) {
                throw new IllegalArgumentException(
                        "event time field " + field + " is not among the CSV columns " + columns);
            }
        }
        return new RecordEventTime(json, field, csvIndex, time);
    }

    /** The event time of the record in epoch milliseconds, or {@link #NOT_READABLE}. */
    public long eventTimeMs(String payload) {
        if (payload == null) {
            return NOT_READABLE;
        }
        return json ? fromJson(payload) : fromCsv(payload);
    }

    private long fromJson(String payload) {
        String text;
        try {
            text = topLevelFieldText(payload, field);
        } catch (IOException e) {
            return NOT_READABLE;
        }
        return text == null ? NOT_READABLE : fromFieldText(text, 0, text.length());
    }

    /**
     * The text of a scalar top-level field, null when absent, null or not a scalar. The whole first
     * JSON value must be well-formed (JSON_VALUE parses it all), anything after it is ignored, and
     * of duplicate keys the last wins (JSON_VALUE reads through a map).
     */
    private static String topLevelFieldText(String payload, String field) throws IOException {
        try (JsonParser parser = JSON.createParser(payload)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            String text = null;
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                boolean wanted = field.equals(parser.currentName());
                JsonToken value = parser.nextToken();
                if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
                    parser.skipChildren();
                    if (wanted) {
                        text = null;
                    }
                } else if (wanted) {
                    text = value == JsonToken.VALUE_NULL ? null : parser.getText();
                }
            }
            if (token != JsonToken.END_OBJECT) {
                throw new IOException("unterminated object");
            }
            return text;
        }
    }

    private long fromCsv(String payload) {
        int n = payload.length();
        int start = 0;
        while (start < n && payload.charAt(start) == ' ') {
            start++;
        }
        if (start < n && payload.charAt(start) == '"') {
            return fromCsvInJsonString(payload, start + 1);
        }
        start = 0;
        int end = n;
        while (start < end && payload.charAt(start) == '\n') {
            start++;
        }
        while (end > start && payload.charAt(end - 1) == '\n') {
            end--;
        }
        return fromCsvBody(payload, start, end);
    }

    /**
     * The event time of the CSV line that is the content of the JSON string starting at {@code
     * from}, found without decoding the string: only the wanted column is decoded, and only if it
     * holds escapes. The whole string is still checked as Jackson would (escapes, raw control
     * characters, closing quote), because JSON_VALUE yields NULL for an invalid one.
     */
    private long fromCsvInJsonString(String s, int from) {
        int column = 0;
        int columnStart = from;
        boolean columnEscaped = false;
        int targetStart = -1;
        int targetEnd = -1;
        boolean targetEscaped = false;
        int n = s.length();
        for (int i = from; i < n; i++) {
            int tokenStart = i;
            char c = s.charAt(i);
            boolean comma;
            if (c == '"') {
                if (column == csvIndex) {
                    targetStart = columnStart;
                    targetEnd = i;
                    targetEscaped = columnEscaped;
                }
                if (targetStart < 0) {
                    return NOT_READABLE;
                }
                if (!targetEscaped) {
                    return fromFieldText(s, targetStart, targetEnd);
                }
                String text = decodeEscapes(s, targetStart, targetEnd);
                return fromFieldText(text, 0, text.length());
            } else if (c == '\\') {
                if (i + 1 >= n) {
                    return NOT_READABLE;
                }
                char escape = s.charAt(++i);
                if (escape == 'u') {
                    int code = hex4(s, i + 1);
                    if (code < 0) {
                        return NOT_READABLE;
                    }
                    i += 4;
                    comma = code == ',';
                } else if ("\"\\/bfnrt".indexOf(escape) >= 0) {
                    comma = false;
                } else {
                    return NOT_READABLE;
                }
                columnEscaped |= !comma;
            } else if (c < 0x20) {
                // Jackson, and with it JSON_VALUE, rejects raw control characters in strings.
                return NOT_READABLE;
            } else {
                comma = c == ',';
            }
            if (comma) {
                if (column == csvIndex) {
                    targetStart = columnStart;
                    targetEnd = tokenStart;
                    targetEscaped = columnEscaped;
                }
                column++;
                columnStart = i + 1;
                columnEscaped = false;
            }
        }
        return NOT_READABLE;
    }

    private long fromCsvBody(CharSequence body, int start, int end) {
        int columnStart = start;
        for (int column = 0; column < csvIndex; column++) {
            int comma = indexOf(body, ',', columnStart, end);
            if (comma < 0) {
                return NOT_READABLE;
            }
            columnStart = comma + 1;
        }
        int comma = indexOf(body, ',', columnStart, end);
        int columnEnd = comma < 0 ? end : comma;
        return fromFieldText(body, columnStart, columnEnd);
    }

    /** The event time of a field's text (before SQL's TRIM), or NOT_READABLE. */
    private long fromFieldText(CharSequence text, int start, int end) {
        while (start < end && text.charAt(start) == ' ') {
            start++;
        }
        while (end > start && text.charAt(end - 1) == ' ') {
            end--;
        }
        if (start == end) {
            return NOT_READABLE;
        }
        long millis;
        switch (timeFormat) {
            case EPOCH_MS:
                millis = epochMillis(text, start, end, false);
                break;
            case EPOCH_S:
                millis = epochMillis(text, start, end, true);
                break;
            case ISO8601:
            default:
                millis = SqlTimestampText.epochMillis(text, start, end);
                break;
        }
        return millis > 0 ? millis : NOT_READABLE;
    }

    /** {@code CAST(TRY_CAST(text AS DOUBLE) [* 1000] AS BIGINT)}; 0 where SQL gives NULL. */
    private static long epochMillis(CharSequence text, int start, int end, boolean seconds) {
        double value;
        // Up to 15 digits a long converts to double exactly, so the shortcut gives parseDouble's
        // value without building a string.
        if (end - start <= 15 && allDigits(text, start, end)) {
            value = parseDigits(text, start, end);
        } else {
            try {
                value = Double.parseDouble(text.subSequence(start, end).toString());
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return seconds ? (long) (value * 1000) : (long) value;
    }

    private static boolean allDigits(CharSequence s, int start, int end) {
        for (int i = start; i < end; i++) {
            if (!isDigit(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    private static long parseDigits(CharSequence s, int start, int end) {
        long value = 0;
        for (int i = start; i < end; i++) {
            value = value * 10 + (s.charAt(i) - '0');
        }
        return value;
    }

    static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static int indexOf(CharSequence s, char c, int from, int end) {
        if (s instanceof String) {
            int found = ((String) s).indexOf(c, from);
            return found >= end ? -1 : found;
        }
        for (int i = from; i < end; i++) {
            if (s.charAt(i) == c) {
                return i;
            }
        }
        return -1;
    }

    /** The value of four hex digits at {@code from}, or -1. */
    private static int hex4(String s, int from) {
        if (from + 4 > s.length()) {
            return -1;
        }
        int code = 0;
        for (int k = from; k < from + 4; k++) {
            int digit = Character.digit(s.charAt(k), 16);
            if (digit < 0) {
                return -1;
            }
            code = code * 16 + digit;
        }
        return code;
    }

    /** The decoded text of a range of a JSON string whose escapes are known to be valid. */
    private static String decodeEscapes(String s, int start, int end) {
        StringBuilder out = new StringBuilder(end - start);
        for (int i = start; i < end; i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char escape = s.charAt(++i);
            switch (escape) {
                case 'b':
                    out.append('\b');
                    break;
                case 'f':
                    out.append('\f');
                    break;
                case 'n':
                    out.append('\n');
                    break;
                case 'r':
                    out.append('\r');
                    break;
                case 't':
                    out.append('\t');
                    break;
                case 'u':
                    out.append((char) hex4(s, i + 1));
                    i += 4;
                    break;
                default:
                    out.append(escape);
                    break;
            }
        }
        return out.toString();
    }
}
