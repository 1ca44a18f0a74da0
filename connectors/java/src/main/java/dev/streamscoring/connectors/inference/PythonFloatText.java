package dev.streamscoring.connectors.inference;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * Doubles written as Python's {@code repr(float)} writes them: the shortest digits that read back
 * as the same double, fixed notation for decimal exponents -4 to 15, {@code 1e-05} style outside.
 * Request bodies built in Java must be byte for byte what the Python codec sends, and Java's own
 * {@code Double.toString} differs in notation (and, before JDK 19, sometimes in digits).
 */
final class PythonFloatText {

    // Any decimal of at most this many significant digits reads back as a distinct normal double,
    // so a string of Double.toString this short is the unique shortest one (not so for subnormals).
    private static final int DISTINCT_DIGITS = 15;

    private PythonFloatText() {}

    /** {@code repr(value)}: {@code nan}, {@code inf}, {@code -inf} for the special values. */
    static void appendRepr(StringBuilder out, double value) {
        if (Double.isNaN(value)) {
            out.append("nan");
        } else if (Double.isInfinite(value)) {
            out.append(value > 0 ? "inf" : "-inf");
        } else {
            appendFinite(out, value);
        }
    }

    /** What {@code json.dumps} writes for a float: {@code NaN}, {@code Infinity}, {@code -Infinity}. */
    static void appendJson(StringBuilder out, double value) {
        if (Double.isNaN(value)) {
            out.append("NaN");
        } else if (Double.isInfinite(value)) {
            out.append(value > 0 ? "Infinity" : "-Infinity");
        } else {
            appendFinite(out, value);
        }
    }

    private static void appendFinite(StringBuilder out, double value) {
        if (value == 0.0) {
            out.append(1.0 / value < 0 ? "-0.0" : "0.0");
            return;
        }
        if (value < 0) {
            out.append('-');
            value = -value;
        }
        Decimal decimal = Decimal.of(Double.toString(value));
        if (decimal.digits.length() > DISTINCT_DIGITS || value < Double.MIN_NORMAL) {
            decimal = Decimal.shortest(value);
        }
        decimal.appendPython(out);
    }

    /** Significant digits d1 d2 ... dn and the point's place: value = 0.d1d2...dn x 10^point. */
    private static final class Decimal {
        final String digits;
        final int point;

        private Decimal(String digits, int point) {
            this.digits = digits;
            this.point = point;
        }

        /** From Double.toString's "123.45" or "1.2345E-7". */
        static Decimal of(String text) {
            int e = text.indexOf('E');
            String mantissa = e < 0 ? text : text.substring(0, e);
            int exponent = e < 0 ? 0 : Integer.parseInt(text.substring(e + 1));
            int dot = mantissa.indexOf('.');
            String all = mantissa.substring(0, dot) + mantissa.substring(dot + 1);
            int point = dot + exponent;
            int start = 0;
            while (start < all.length() - 1 && all.charAt(start) == '0') {
                start++;
                point--;
            }
            int end = all.length();
            while (end > start + 1 && all.charAt(end - 1) == '0') {
                end--;
            }
            return new Decimal(all.substring(start, end), point);
        }

        /**
         * The fewest digits that read back as value; of those, the closest (as Python chooses). The
         * candidates are the decimals just below and just above the exact value: next to a power
         * of two the nearer one can fall outside the values that read back while the other does not.
         */
        static Decimal shortest(double value) {
            BigDecimal exact = new BigDecimal(value);
            for (int precision = 1; precision < 17; precision++) {
                BigDecimal below = exact.round(new MathContext(precision, RoundingMode.FLOOR));
                BigDecimal above = exact.round(new MathContext(precision, RoundingMode.CEILING));
                boolean belowReadsBack = below.doubleValue() == value;
                boolean aboveReadsBack = above.doubleValue() == value;
                if (belowReadsBack && aboveReadsBack) {
                    // The nearer one; a tie goes to the even last digit, as in Python.
                    return of(exact.round(new MathContext(precision, RoundingMode.HALF_EVEN)));
                }
                if (belowReadsBack || aboveReadsBack) {
                    return of(belowReadsBack ? below : above);
                }
            }
            return of(exact.round(new MathContext(17, RoundingMode.HALF_EVEN)));
        }

        private static Decimal of(BigDecimal rounded) {
            String unscaled = rounded.unscaledValue().toString();
            int point = unscaled.length() - rounded.scale();
            int end = unscaled.length();
            while (end > 1 && unscaled.charAt(end - 1) == '0') {
                end--;
            }
            return new Decimal(unscaled.substring(0, end), point);
        }

        void appendPython(StringBuilder out) {
            int n = digits.length();
            if (point <= -4 || point > 16) {
                out.append(digits.charAt(0));
                if (n > 1) {
                    out.append('.').append(digits, 1, n);
                }
                int exponent = point - 1;
                out.append(exponent < 0 ? "e-" : "e+");
                int magnitude = Math.abs(exponent);
                if (magnitude < 10) {
                    out.append('0');
                }
                out.append(magnitude);
            } else if (point <= 0) {
                out.append("0.");
                for (int i = point; i < 0; i++) {
                    out.append('0');
                }
                out.append(digits);
            } else if (point < n) {
                out.append(digits, 0, point).append('.').append(digits, point, n);
            } else {
                out.append(digits);
                for (int i = n; i < point; i++) {
                    out.append('0');
                }
                out.append(".0");
            }
        }
    }
}
