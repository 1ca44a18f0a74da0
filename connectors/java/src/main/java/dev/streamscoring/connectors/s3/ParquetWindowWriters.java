package dev.streamscoring.connectors.s3;

import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.formats.parquet.ParquetBuilder;
import org.apache.flink.formats.parquet.ParquetWriterFactory;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.conf.ParquetConfiguration;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.OutputFile;

import java.io.IOException;

/**
 * Bulk writers of Snappy-compressed Parquet files for the S3 FileSink's window records, one typed
 * column per output field. The FileSink rolls bulk files on every checkpoint, so a file becomes
 * visible exactly when the checkpoint that finished it completes.
 */
public final class ParquetWindowWriters {

    private ParquetWindowWriters() {}

    /**
     * A writer factory for JSON window lines; {@code types} are Glue type names (string,
     * timestamp, bigint, double), one per column name, in output order.
     */
    public static BulkWriter.Factory<String> forColumns(String[] names, String[] types) {
        WindowSchema schema = WindowSchema.of(names, types);
        return new ParquetWriterFactory<>(new WindowFileBuilder(schema));
    }

    /** Opens one Parquet file over the stream the FileSink hands out. */
    private static final class WindowFileBuilder implements ParquetBuilder<String> {

        private static final long serialVersionUID = 1L;

        private final WindowSchema schema;

        WindowFileBuilder(WindowSchema schema) {
            this.schema = schema;
        }

        @Override
        public ParquetWriter<String> createWriter(OutputFile out) throws IOException {
            return new Builder(out, schema)
                    // A plain configuration and our own codec keep Hadoop off the write path.
                    .withConf(new PlainParquetConfiguration())
                    .withCodecFactory(new SnappyCompression())
                    .withCompressionCodec(CompressionCodecName.SNAPPY)
                    .build();
        }
    }

    private static final class Builder extends ParquetWriter.Builder<String, Builder> {

        private final WindowSchema schema;

        Builder(OutputFile out, WindowSchema schema) {
            super(out);
            this.schema = schema;
        }

        @Override
        protected Builder self() {
            return this;
        }

        @Override
        protected WriteSupport<String> getWriteSupport(Configuration configuration) {
            return new WindowRowWriteSupport(schema);
        }

        @Override
        protected WriteSupport<String> getWriteSupport(ParquetConfiguration configuration) {
            return new WindowRowWriteSupport(schema);
        }
    }
}
