package dev.streamscoring.connectors.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class JsonTextTest {

    @Test
    void escapesAsPythonsJsonDumps() {
        StringBuilder out = new StringBuilder();
        JsonText.appendString(out, "a\"b\\c\n\t\u0001\u007f\u00e9\uD83D\uDE00 /");
        // json.dumps('a"b\\c\n\t\x01\x7f\xe9\U0001F600 /')
        assertEquals("\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\\u00e9\\ud83d\\ude00 /\"", out.toString());
    }
}
