package dev.streamscoring.connectors.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

/** Expected bodies are what {@code udfs.inference.codecs.Codec.encode} returns for the same instances. */
class RequestBodyTest {

    private static String finish(RequestBody body) {
        return new String(body.finish(), StandardCharsets.UTF_8);
    }

    @Test
    void csvBodyIsOneLinePerInstanceWithoutATrailingNewline() {
        RequestBody body = new RequestBody(RequestBody.CSV, "instances");
        body.add(new double[] {3.45, 812.3});
        body.add(new double[] {0.1, 1e-05});
        assertEquals(2, body.instances());
        assertEquals("3.45,812.3\n0.1,1e-05", finish(body));
    }

    @Test
    void jsonBodyHoldsTheInstancesUnderTheKey() {
        RequestBody body = new RequestBody(RequestBody.JSON, "instances");
        body.add(new double[] {3.45, 812.3});
        body.add(new double[] {0.1, 1e-05});
        assertEquals("{\"instances\":[[3.45,812.3],[0.1,1e-05]]}", finish(body));
    }

    @Test
    void theJsonKeyIsEscapedAsJsonDumpsEscapesIt() {
        RequestBody body = new RequestBody(RequestBody.JSON, "inst\u00e9\"s");
        body.add(new double[] {1.0});
        assertEquals("{\"inst\\u00e9\\\"s\":[[1.0]]}", finish(body));
    }

    @Test
    void specialValuesAsEachCodecWritesThem() {
        double[] special = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        RequestBody csv = new RequestBody(RequestBody.CSV, "instances");
        csv.add(special);
        assertEquals("nan,inf,-inf", finish(csv));
        RequestBody json = new RequestBody(RequestBody.JSON, "instances");
        json.add(special);
        assertEquals("{\"instances\":[[NaN,Infinity,-Infinity]]}", finish(json));
    }

    @Test
    void finishStartsTheNextBody() {
        RequestBody body = new RequestBody(RequestBody.JSON, "instances");
        body.add(new double[] {1.0});
        finish(body);
        assertEquals(0, body.instances());
        assertEquals("{\"instances\":[]}", finish(body));
        body.add(new double[] {2.0});
        assertEquals("{\"instances\":[[2.0]]}", finish(body));
    }
}
