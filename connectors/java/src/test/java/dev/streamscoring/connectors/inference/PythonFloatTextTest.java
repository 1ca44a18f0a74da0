package dev.streamscoring.connectors.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PythonFloatTextTest {

    private static String repr(double value) {
        StringBuilder out = new StringBuilder();
        PythonFloatText.appendRepr(out, value);
        return out.toString();
    }

    private static String json(double value) {
        StringBuilder out = new StringBuilder();
        PythonFloatText.appendJson(out, value);
        return out.toString();
    }

    @Test
    void writesWhatPythonsReprWrites() {
        // Expected texts are Python 3.12's repr() of the same doubles.
        assertEquals("1.0", repr(1.0));
        assertEquals("0.1", repr(0.1));
        assertEquals("3.45", repr(3.45));
        assertEquals("812.3", repr(812.3));
        assertEquals("-2.5", repr(-2.5));
        assertEquals("0.0", repr(0.0));
        assertEquals("-0.0", repr(-0.0));
        assertEquals("1e-05", repr(1e-05));
        assertEquals("0.0001", repr(0.0001));
        assertEquals("0.001", repr(0.001));
        assertEquals("1e+16", repr(1e16));
        assertEquals("1000000000000000.0", repr(1e15));
        assertEquals("100.0", repr(100.0));
        assertEquals("1234567.0", repr(1234567.0));
        assertEquals("12345678.0", repr(12345678.0));
        assertEquals("1.2345678901234568e+17", repr(123456789012345678.0));
        assertEquals("0.30000000000000004", repr(0.1 + 0.2));
        assertEquals("0.00030000000000000003", repr(1e-4 * 3));
        assertEquals("0.3333333333333333", repr(1.0 / 3));
        assertEquals("5.684341886080802e-14", repr(Math.pow(2, -44)));
        assertEquals("9007199254740992.0", repr(9007199254740993.0));
        assertEquals("1.7976931348623157e+308", repr(Double.MAX_VALUE));
        assertEquals("1e+23", repr(1e23));
    }

    @Test
    void findsTheShortestDigitsWhereJavaWritesMore() {
        // Java 17's Double.toString writes 4.9E-324 and 2.82879384806159008E17 for these.
        assertEquals("5e-324", repr(Double.MIN_VALUE));
        assertEquals("2.82879384806159e+17", repr(2.82879384806159e17));
        // Exactly between two 16-digit decimals that both read back: the even one, as Python.
        assertEquals("827539658304505.8", repr(827539658304505.75));
    }

    @Test
    void specialValuesAsReprAndAsJsonDumpsWriteThem() {
        assertEquals("nan", repr(Double.NaN));
        assertEquals("inf", repr(Double.POSITIVE_INFINITY));
        assertEquals("-inf", repr(Double.NEGATIVE_INFINITY));
        assertEquals("NaN", json(Double.NaN));
        assertEquals("Infinity", json(Double.POSITIVE_INFINITY));
        assertEquals("-Infinity", json(Double.NEGATIVE_INFINITY));
        assertEquals("3.45", json(3.45));
    }
}
