package dev.streamscoring.connectors.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class DeadLetterCounterTest {

    @Test
    void readsTheStageOfALineWrittenBySql() {
        String line =
                "{\"payload\":\"{\\\"stage\\\":\\\"window\\\"}\",\"stage\":\"parse\","
                        + "\"reason\":\"not a JSON object\",\"arrival_time\":\"2026-11-27T10:00:00.000Z\"}";
        assertEquals("parse", DeadLetterCounter.stageOf(line));
    }

    @Test
    void aLineWithoutStageHasNone() {
        assertEquals("", DeadLetterCounter.stageOf("{\"payload\":\"x\"}"));
        assertEquals("", DeadLetterCounter.stageOf("{\"stage\":\"cut"));
    }

    @Test
    void counterNamesFollowTheStage() {
        assertEquals("deadLettersInference", ServiceMetrics.deadLetters("inference"));
        assertEquals("deadLettersWindow", ServiceMetrics.deadLetters("window"));
        assertEquals("deadLettersUnknown", ServiceMetrics.deadLetters(""));
    }
}
