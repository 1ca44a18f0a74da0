package dev.streamscoring.connectors.s3;

import io.airlift.compress.snappy.SnappyCompressor;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;

import java.io.IOException;

/**
 * Snappy page compression in pure Java. Parquet's own codec factory goes through Hadoop's codec
 * classes; the only Hadoop near the job is the S3 filesystem's private copy, so the writer keeps
 * Hadoop off its path altogether (its tests run without Hadoop). The writer only ever compresses,
 * so decompression is refused.
 */
final class SnappyCompression implements CompressionCodecFactory {

    @Override
    public BytesInputCompressor getCompressor(CompressionCodecName codecName) {
        if (codecName != CompressionCodecName.SNAPPY) {
            throw new IllegalArgumentException("only Snappy is supported, not " + codecName);
        }
        return new Compressor();
    }

    @Override
    public BytesInputDecompressor getDecompressor(CompressionCodecName codecName) {
        throw new UnsupportedOperationException("the window writer never reads Parquet");
    }

    @Override
    public void release() {}

    /** Compresses one page into a buffer of its own, which the page writer keeps until it flushes. */
    private static final class Compressor implements BytesInputCompressor {

        private final SnappyCompressor snappy = new SnappyCompressor();

        @Override
        public BytesInput compress(BytesInput bytes) throws IOException {
            byte[] input = bytes.toByteArray();
            byte[] output = new byte[snappy.maxCompressedLength(input.length)];
            int length = snappy.compress(input, 0, input.length, output, 0, output.length);
            return BytesInput.from(output, 0, length);
        }

        @Override
        public CompressionCodecName getCodecName() {
            return CompressionCodecName.SNAPPY;
        }

        @Override
        public void release() {}
    }
}
