extension Array where Element == Float {
    /// Copies `source` over this array's first `source.count` values in place: unlike `self = source` followed by a
    /// write, it reuses this array's own storage, so the layer loops allocate nothing.
    @inline(__always)
    mutating func overwrite(with source: [Float]) {
        precondition(count >= source.count, "overwrite: \(source.count) values into \(count)")
        withUnsafeMutableBufferPointer { target in
            source.withUnsafeBufferPointer { target.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    /// Makes this array `count` zeros, keeping its storage when that is large enough (no allocation then).
    mutating func zero(count: Int) {
        removeAll(keepingCapacity: true)
        append(contentsOf: repeatElement(0, count: count))
    }
}
