/// Keys and values of every processed position, per layer: `[position][kvHead][headDimension]` in one buffer each.
final class KVCache {
    let capacity: Int
    private(set) var keys: [[Float]]
    private(set) var values: [[Float]]
    private let widths: [Int]

    /// - Parameter widths: `kvHeads × headDimension` of each layer (0 for layers that reuse another's cache).
    init(capacity: Int, widths: [Int]) {
        self.capacity = capacity
        self.widths = widths
        keys = widths.map { [Float](repeating: 0, count: capacity * $0) }
        values = widths.map { [Float](repeating: 0, count: capacity * $0) }
    }

    /// Stores one position's key and value of `layer`.
    private func store(layer: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        let width = widths[layer]
        keys[layer].withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: position * width).update(from: key, count: width) }
        values[layer].withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: position * width).update(from: value, count: width) }
    }

    /// Stores `count` consecutive positions from `start`: row `t` of `keys` and `values` is position `start + t`.
    func store(layer: Int, start: Int, count: Int, keys: [Float], values: [Float]) {
        let width = widths[layer]
        keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in
            for t in 0..<count { store(layer: layer, position: start + t, key: k.baseAddress! + t * width, value: v.baseAddress! + t * width) }
        } }
    }
}
