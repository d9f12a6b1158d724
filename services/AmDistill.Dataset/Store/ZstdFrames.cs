using System.Buffers.Binary;

namespace AmDistill.Dataset.Store;

/// <summary>
/// Whether a part was closed: every zstd frame in it ends with its last block (RFC 8878 §3.1.1). A writer that was
/// killed leaves a frame that was flushed block by block but never ended; the data in it reads, the part is not whole.
/// </summary>
public static class ZstdFrames
{
    private const uint FrameMagic = 0xFD2FB528;

    public static bool AreComplete(Stream part)
    {
        using var buffer = new MemoryStream();
        part.CopyTo(buffer);
        return AreComplete(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    public static bool AreComplete(ReadOnlySpan<byte> data)
    {
        var position = 0;
        while (position < data.Length)
        {
            if (data.Length - position < 5) return false;
            var magic = BinaryPrimitives.ReadUInt32LittleEndian(data[position..]);
            if ((magic & 0xFFFFFFF0) == 0x184D2A50) // a skippable frame: magic, size, payload
            {
                if (data.Length - position < 8) return false;
                position += 8 + (int)BinaryPrimitives.ReadUInt32LittleEndian(data[(position + 4)..]);
                continue;
            }
            if (magic != FrameMagic) return false;
            var descriptor = data[position + 4];
            var singleSegment = (descriptor & 0x20) != 0;
            var checksum = (descriptor & 0x04) != 0;
            int[] dictionaryIdSizes = [0, 1, 2, 4];
            var contentSizeBytes = (descriptor >> 6) switch { 0 => singleSegment ? 1 : 0, 1 => 2, 2 => 4, _ => 8 };
            position += 5 + (singleSegment ? 0 : 1) + dictionaryIdSizes[descriptor & 0x03] + contentSizeBytes;
            while (true)
            {
                if (data.Length - position < 3) return false;
                var header = data[position] | (data[position + 1] << 8) | (data[position + 2] << 16);
                var last = (header & 1) != 0;
                var type = (header >> 1) & 3;
                var size = header >> 3;
                position += 3 + (type == 1 ? 1 : size); // an RLE block holds one byte, repeated size times
                if (position > data.Length) return false;
                if (last) break;
            }
            if (checksum) position += 4;
        }
        return position == data.Length;
    }
}
