import CDotKernels
/// Causal attention of new queries over a layer's KV cache, shared by every Gemma generation.
enum Attention {
    /// Each of `count × heads` heads of `x`: RMS norm with `offset + weight`, then RoPE at its position
    /// (`start + token`), by the angles `angles` keeps. The query and key preparation of every Gemma generation.
    static func normAndRotate(_ x: inout [Float], count: Int, heads: Int, headDimension hd: Int, weight: [Float], offset: Float,
                              epsilon: Float, start: Int, inverseFrequencies: [Float], angles: inout RotaryAngles) {
        precondition(2 * inverseFrequencies.count == hd, "one frequency per pair of a head")
        x.withUnsafeMutableBufferPointer { buffer in
            angles.forEach(start: start, count: count, inverseFrequencies: inverseFrequencies) { t, cosines, sines in
                for h in 0..<heads {
                    let head = buffer.baseAddress! + (t * heads + h) * hd
                    Kernels.rmsNorm(head, hd, weight: weight, offset: offset, epsilon: epsilon)
                    Kernels.rope(head, headDimension: hd, cosines: cosines, sines: sines)
                }
            }
        }
    }

    /// Queries attended to at once; each lane needs its own scores, so score buffers hold this many lanes.
    static let lanes = WorkerPool.shared.participants

    /// The length of a score buffer for a cache of `capacity` positions: a row per query head of a tile, per lane.
    static func scoresCount(capacity: Int) -> Int { lanes * Int(LPK_ATTENTION_TILE) * capacity }

    /// The length of a buffer of partial results for heads of up to `width` values in all (heads × head dimension):
    /// per lane, the heads' unnormalized outputs, maxima and sums (``lpk_attend_merge``).
    static func partialsCount(width: Int) -> Int { lanes * 3 * width }

    /// Cached key values per lane (64 KiB of keys, as many of values) from which a single query's span is split between
    /// the lanes: 64 positions of the 270M's one 256-wide KV head. Below it, the pool's start and the merge cost about
    /// what halving the reads saves.
    static let splitKeys = 16_384

    /// The first cached position a query at `position` sees: 0, or on a sliding layer the first of the last `window`.
    static func firstVisible(from position: Int, window: Int?) -> Int { window.map { max(0, position - $0 + 1) } ?? 0 }

    /// For each of `count` queries at positions `start ..< start + count`: softmax(scale · q·k) over the cached
    /// positions it may see (all earlier ones, or the last `window` on sliding layers), times the cached values.
    /// Queries are spread over the worker pool (query t in lane t mod lanes); a single query over a long span (a
    /// decoded token, ``splitKeys``) has its positions split between the lanes instead, each lane's part merged by
    /// ``lpk_attend_merge``. `scores` has ``scoresCount(capacity:)`` values, `partials` ``partialsCount(width:)``.
    static func attend(queries: [Float], keys: [Float], values: [Float], count: Int, start: Int, heads: Int, kvHeads: Int,
                       headDimension hd: Int, window: Int?, scale: Float, into output: inout [Float], scores: inout [Float],
                       partials: inout [Float]) {
        let first = firstVisible(from: start, window: window)
        let split = count == 1 && lanes > 1 && (start + 1 - first) * kvHeads * hd >= lanes * splitKeys
        queries.withUnsafeBufferPointer { q in keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in
            output.withUnsafeMutableBufferPointer { out in scores.withUnsafeMutableBufferPointer { s in
                partials.withUnsafeMutableBufferPointer { p in
                    let job = Job(queries: q.baseAddress!, keys: k.baseAddress!, values: v.baseAddress!, output: out.baseAddress!,
                                  scores: s.baseAddress!, partials: split ? p.baseAddress! : nil, laneSize: s.count / lanes,
                                  lanes: split ? lanes : min(lanes, count), count: count, start: start, heads: heads, kvHeads: kvHeads,
                                  headDimension: hd, window: window, scale: scale)
                    WorkerPool.shared.parallelFor(job.lanes, .attention(job))
                    if split { lpk_attend_merge(lanes, heads, hd, p.baseAddress!, 3 * heads * hd, out.baseAddress!) }
                }
            } }
        } } }
    }

    /// One attention call as the worker pool's threads see it: lane l takes queries l, l + lanes, …, or with
    /// `partials`, part l of the one query's positions.
    struct Job {
        let queries, keys, values: UnsafePointer<Float>
        let output, scores: UnsafeMutablePointer<Float>
        /// Where lane l writes its part (at l · 3 · heads · hd: outputs, maxima, sums); nil when queries are not split.
        let partials: UnsafeMutablePointer<Float>?
        let laneSize, lanes, count, start, heads, kvHeads, headDimension: Int
        let window: Int?
        let scale: Float

        /// The query heads that share a key/value head are attended together, a tile at a time, so each cached key
        /// and value is read once per tile rather than once per head.
        func run(lane: Int) {
            let laneScores = scores + lane * laneSize
            guard let partials else {
                for t in stride(from: lane, to: count, by: lanes) {
                    let position = start + t
                    let first = Attention.firstVisible(from: position, window: window)
                    attend(query: t, positions: first..<(position + 1), scores: laneScores, into: output + t * heads * headDimension)
                }
                return
            }
            let first = Attention.firstVisible(from: start, window: window), span = start + 1 - first
            let part = partials + lane * 3 * heads * headDimension
            attend(query: 0, positions: (first + lane * span / lanes)..<(first + (lane + 1) * span / lanes), scores: laneScores, into: part,
                   maxima: part + heads * headDimension, sums: part + heads * headDimension + heads)
        }

        /// Query `t`'s heads over `positions` into `out` (heads × hd): normalized, or with `maxima` and `sums`, a part.
        private func attend(query t: Int, positions: Range<Int>, scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
                            maxima: UnsafeMutablePointer<Float>? = nil, sums: UnsafeMutablePointer<Float>? = nil) {
            let hd = headDimension, group = heads / kvHeads, tile = Int(LPK_ATTENTION_TILE)
            for kvHead in 0..<kvHeads {
                for h in stride(from: kvHead * group, to: (kvHead + 1) * group, by: tile) {
                    let offset = (positions.lowerBound * kvHeads + kvHead) * hd
                    lpk_attend_heads_part(queries + (t * heads + h) * hd, min(tile, (kvHead + 1) * group - h), keys + offset, values + offset,
                                          kvHeads * hd, positions.count, hd, scale, scores, out + h * hd, maxima.map { $0 + h },
                                          sums.map { $0 + h })
                }
            }
        }
    }
}
