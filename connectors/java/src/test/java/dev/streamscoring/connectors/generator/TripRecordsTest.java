package dev.streamscoring.connectors.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TripRecordsTest {

    @Test
    void sameIndexGivesTheSameRecord() {
        TripRecords records = new TripRecords(7, 0);
        assertEquals(records.map(41L), records.map(41L));
        assertTrue(!records.map(41L).equals(records.map(42L)));
    }

    @Test
    void aTripIsAJsonStringOfSixteenNumbersWithTheFareModel() {
        TripRecords records = new TripRecords(7, 0);
        for (long i = 0; i < 1000; i++) {
            String record = records.map(i);
            assertTrue(record.startsWith("\"") && record.endsWith("\""), record);
            String[] fields = record.substring(1, record.length() - 1).split(",");
            assertEquals(16, fields.length, record);
            double distance = Double.parseDouble(fields[1]);
            double fare = Double.parseDouble(fields[11]);
            double duration = Double.parseDouble(fields[12]);
            assertTrue(distance >= 0.3 && distance <= 12.0, record);
            assertTrue(duration >= distance * 150.0 - 0.05 && duration <= distance * 330.0 + 0.05, record);
            double expected = TripRecords.FARE_BASE + TripRecords.FARE_PER_MILE * distance
                    + TripRecords.FARE_PER_MINUTE * duration / 60.0;
            // Noise of stddev 0.5: 6 sigma, or the fare floor.
            assertTrue(Math.abs(fare - expected) < 3.0 || fare == 2.5, record);
            assertEquals(1.0, Double.parseDouble(fields[13]) + Double.parseDouble(fields[14])
                    + Double.parseDouble(fields[15]), 1e-9, record);
        }
    }

    @Test
    void everyNthRecordIsMalformed() {
        TripRecords records = new TripRecords(7, 100);
        int malformed = 0;
        for (long i = 0; i < 1000; i++) {
            if (records.map(i).startsWith("\"malformed")) {
                malformed++;
            }
        }
        assertEquals(10, malformed);
        assertEquals("\"malformed trip 99\"", records.map(99L));
    }

    @Test
    void negativeMalformedEveryIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new TripRecords(7, -1));
    }
}
