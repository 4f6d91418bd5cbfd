/// Splits little-endian elements into byte planes (all first bytes, then all second bytes, …) and back.
///
/// The exponent bytes of neighbouring weights are alike, so a plane of them compresses far better than the
/// interleaved bytes (the idea behind lossless model compressors such as ZipNN).
public enum ByteGrouping {
    /// Planes of `bytes`, elements `width` bytes wide. - Precondition: `bytes.count` is a multiple of `width`.
    public static func group(_ bytes: UnsafeRawBufferPointer, width: Int) -> [UInt8] {
        precondition(width > 0 && bytes.count % width == 0, "whole elements only")
        let count = bytes.count / width
        var planes = [UInt8](repeating: 0, count: bytes.count)
        planes.withUnsafeMutableBufferPointer { out in
            for element in 0..<count {
                for plane in 0..<width { out[plane * count + element] = bytes[element * width + plane] }
            }
        }
        return planes
    }

    /// The inverse of ``group(_:width:)``.
    public static func ungroup(_ planes: [UInt8], width: Int) -> [UInt8] {
        precondition(width > 0 && planes.count % width == 0, "whole elements only")
        let count = planes.count / width
        var bytes = [UInt8](repeating: 0, count: planes.count)
        bytes.withUnsafeMutableBufferPointer { out in
            planes.withUnsafeBufferPointer { input in
                for plane in 0..<width {
                    for element in 0..<count { out[element * width + plane] = input[plane * count + element] }
                }
            }
        }
        return bytes
    }
}
