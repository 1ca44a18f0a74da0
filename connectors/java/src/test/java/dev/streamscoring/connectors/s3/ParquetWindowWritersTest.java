package dev.streamscoring.connectors.s3;

import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.core.fs.local.LocalDataOutputStream;

import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.CompressionCodec;
import org.apache.parquet.format.FieldRepetitionType;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.RowGroup;
import org.apache.parquet.format.SchemaElement;
import org.apache.parquet.format.Type;
import org.apache.parquet.format.Util;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writes as the FileSink does, with no Hadoop on the classpath (see the pom's surefire setup). */
class ParquetWindowWritersTest {

    private static final String[] NAMES = {
        "vendor_id", "window_start", "window_end", "window_id", "count", "fare_amount_mean"
    };
    private static final String[] TYPES = {
        "string", "timestamp", "timestamp", "string", "bigint", "double"
    };

    @TempDir Path dir;

    private Path write(String... lines) throws Exception {
        File file = dir.resolve("part-0.parquet").toFile();
        BulkWriter.Factory<String> factory = ParquetWindowWriters.forColumns(NAMES, TYPES);
        try (LocalDataOutputStream out = new LocalDataOutputStream(file)) {
            BulkWriter<String> writer = factory.create(out);
            for (String line : lines) {
                writer.addElement(line);
            }
            writer.finish();
        }
        return file.toPath();
    }

    @Test
    void writesTypedSnappyColumns() throws Exception {
        Path file =
                write(
                        "{\"vendor_id\":\"1\",\"window_start\":\"2026-11-23T10:00:00Z\","
                                + "\"window_end\":\"2026-11-23T10:01:00Z\",\"window_id\":\"ab\","
                                + "\"count\":3,\"fare_amount_mean\":12.5}",
                        "{\"vendor_id\":\"2\",\"window_start\":\"2026-11-23T10:00:00Z\","
                                + "\"window_end\":\"2026-11-23T10:01:00Z\",\"window_id\":\"cd\","
                                + "\"count\":1,\"fare_amount_mean\":null,\"extra\":true}");

        FileMetaData footer = footer(file);
        assertEquals(2, footer.getNum_rows());
        List<String> columns = new ArrayList<>();
        List<Type> types = new ArrayList<>();
        for (SchemaElement element : footer.getSchema().subList(1, footer.getSchema().size())) {
            columns.add(element.getName());
            types.add(element.getType());
            assertEquals(FieldRepetitionType.OPTIONAL, element.getRepetition_type());
        }
        assertEquals(List.of(NAMES), columns);
        assertEquals(
                List.of(Type.BYTE_ARRAY, Type.INT64, Type.INT64, Type.BYTE_ARRAY, Type.INT64, Type.DOUBLE),
                types);
        SchemaElement windowStart = footer.getSchema().get(2);
        assertTrue(windowStart.getLogicalType().isSetTIMESTAMP());
        assertTrue(windowStart.getLogicalType().getTIMESTAMP().isIsAdjustedToUTC());
        assertTrue(windowStart.getLogicalType().getTIMESTAMP().getUnit().isSetMILLIS());
        for (RowGroup group : footer.getRow_groups()) {
            for (ColumnChunk chunk : group.getColumns()) {
                assertEquals(CompressionCodec.SNAPPY, chunk.getMeta_data().getCodec());
            }
        }
    }

    /** The file's footer, read with Parquet's format classes only (its file reader needs Hadoop). */
    private static FileMetaData footer(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        int tail = bytes.length - 8;
        assertEquals("PAR1", new String(bytes, tail + 4, 4, StandardCharsets.US_ASCII));
        int length = ByteBuffer.wrap(bytes, tail, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        return Util.readFileMetaData(new ByteArrayInputStream(bytes, tail - length, length));
    }

    @Test
    void aValueOfTheWrongTypeFailsTheWrite() {
        assertThrows(
                IllegalArgumentException.class,
                () -> write("{\"vendor_id\":\"1\",\"count\":\"three\"}"));
        assertThrows(
                IllegalArgumentException.class,
                () -> write("{\"vendor_id\":\"1\",\"fare_amount_mean\":\"12.5\"}"));
    }

    @Test
    void refusesAnUnknownColumnType() {
        IllegalArgumentException error =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> ParquetWindowWriters.forColumns(new String[] {"a"}, new String[] {"int"}));
        assertEquals(
                "unknown column type 'int'; known: string, timestamp, bigint, double",
                error.getMessage());
    }
}
