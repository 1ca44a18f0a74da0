package dev.streamscoring.connectors.eventtime;

import java.time.DateTimeException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.time.temporal.TemporalAccessor;

/**
 * Epoch milliseconds of ISO-8601-like text as the job's SQL computes them: {@code TRY_CAST(
 * REPLACE(REPLACE(text, 'T', ' '), 'Z', '') AS TIMESTAMP(3))} read as UTC. Common shapes are read
 * by hand; everything else goes through the same java.time pattern as Flink's cast.
 */
final class SqlTimestampText {

    private static final long NOT_CANONICAL = Long.MIN_VALUE;

    /** Flink's string-to-TIMESTAMP cast pattern (DateTimeUtils), used where the fast path ends. */
    private static final DateTimeFormatter SQL_TIMESTAMP =
            new DateTimeFormatterBuilder()
                    .appendPattern("yyyy-[MM][M]-[dd][d]")
                    .optionalStart()
                    .appendPattern(" [HH][H]:[mm][m]:[ss][s]")
                    .appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true)
                    .optionalEnd()
                    .toFormatter();

    /**
     * The SQL turns a TIMESTAMP into epoch ms with {@code TIMESTAMPDIFF(SECOND, ...)}, an INT:
     * from 2038-01-19T03:14:08Z on it overflows and the event time is NULL (or, past 2106, wrong).
     * Times from then on are not readable here either, until the SQL computes them another way.
     */
    static final long SQL_ISO_LIMIT_MS = (Integer.MAX_VALUE + 1L) * 1000;

    /** Epoch ms of the text as SQL's ISO-8601 conversion reads it; 0 where SQL gives NULL. */
    static long epochMillis(CharSequence text, int start, int end) {
        long millis = canonicalMillis(text, start, end);
        if (millis == NOT_CANONICAL) {
            millis = generalMillis(text, start, end);
        }
        return millis >= SQL_ISO_LIMIT_MS ? 0 : millis;
    }

    private static long generalMillis(CharSequence text, int start, int end) {
        StringBuilder replaced = new StringBuilder(end - start);
        for (int i = start; i < end; i++) {
            char c = text.charAt(i);
            if (c == 'T') {
                replaced.append(' ');
            } else if (c != 'Z') {
                replaced.append(c);
            }
        }
        try {
            return sqlTimestampMillis(SQL_TIMESTAMP.parse(replaced));
        } catch (DateTimeException e) {
            return 0;
        }
    }

    /** Flink's DateTimeUtils.fromTemporalAccessor at precision 3, as epoch ms in UTC. */
    private static long sqlTimestampMillis(TemporalAccessor parsed) {
        int nanos = field(parsed, ChronoField.NANO_OF_SECOND, 0);
        LocalDateTime time =
                LocalDateTime.of(
                        field(parsed, ChronoField.YEAR, 1970),
                        field(parsed, ChronoField.MONTH_OF_YEAR, 1),
                        field(parsed, ChronoField.DAY_OF_MONTH, 1),
                        field(parsed, ChronoField.HOUR_OF_DAY, 0),
                        field(parsed, ChronoField.MINUTE_OF_HOUR, 0),
                        field(parsed, ChronoField.SECOND_OF_MINUTE, 0),
                        nanos - nanos % 1_000_000);
        return time.toEpochSecond(ZoneOffset.UTC) * 1000 + time.getNano() / 1_000_000;
    }

    private static int field(TemporalAccessor parsed, ChronoField field, int absent) {
        return parsed.isSupported(field) ? parsed.get(field) : absent;
    }

    /**
     * {@code yyyy-MM-dd[T ]HH:mm:ss[.f{0,9}][Z]} with every value in its ordinary range, read
     * without allocating; NOT_CANONICAL for anything else, which the general path then decides.
     */
    private static long canonicalMillis(CharSequence s, int start, int end) {
        if (end - start < 19) {
            return NOT_CANONICAL;
        }
        int year = digits(s, start, 4);
        int month = digits(s, start + 5, 2);
        int day = digits(s, start + 8, 2);
        int hour = digits(s, start + 11, 2);
        int minute = digits(s, start + 14, 2);
        int second = digits(s, start + 17, 2);
        char separator = s.charAt(start + 10);
        if (year < 0
                || month < 1
                || month > 12
                || day < 1
                || day > daysInMonth(year, month)
                || hour < 0
                || hour > 23
                || minute < 0
                || minute > 59
                || second < 0
                || second > 59
                || s.charAt(start + 4) != '-'
                || s.charAt(start + 7) != '-'
                || (separator != 'T' && separator != ' ')
                || s.charAt(start + 13) != ':'
                || s.charAt(start + 16) != ':') {
            return NOT_CANONICAL;
        }
        int i = start + 19;
        if (i < end && s.charAt(i) == 'Z') {
            i++;
        }
        int millis = 0;
        if (i < end && s.charAt(i) == '.') {
            i++;
            int fractionStart = i;
            while (i < end && i - fractionStart < 9 && RecordEventTime.isDigit(s.charAt(i))) {
                if (i - fractionStart < 3) {
                    millis = millis * 10 + (s.charAt(i) - '0');
                }
                i++;
            }
            for (int scale = i - fractionStart; scale < 3; scale++) {
                millis *= 10;
            }
        }
        if (i < end && s.charAt(i) == 'Z') {
            i++;
        }
        if (i != end) {
            return NOT_CANONICAL;
        }
        long days = daysSinceEpoch(year, month, day);
        return ((days * 24 + hour) * 60 + minute) * 60_000L + second * 1000L + millis;
    }

    private static int digits(CharSequence s, int from, int count) {
        int value = 0;
        for (int i = from; i < from + count; i++) {
            char c = s.charAt(i);
            if (!RecordEventTime.isDigit(c)) {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }

    private static int daysInMonth(int year, int month) {
        if (month == 2) {
            boolean leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            return leap ? 29 : 28;
        }
        return (month == 4 || month == 6 || month == 9 || month == 11) ? 30 : 31;
    }

    /** Days from 1970-01-01 to a proleptic Gregorian date (years 0..9999). */
    private static long daysSinceEpoch(int year, int month, int day) {
        int y = month <= 2 ? year - 1 : year;
        int era = Math.floorDiv(y, 400);
        int yearOfEra = y - era * 400;
        int monthIndex = (month + 9) % 12;
        int dayOfYear = (153 * monthIndex + 2) / 5 + day - 1;
        int dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
        return era * 146097L + dayOfEra - 719468;
    }

    private SqlTimestampText() {}
}
