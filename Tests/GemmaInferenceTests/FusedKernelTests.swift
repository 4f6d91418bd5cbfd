import ByteIO
import CDotKernels
import Conversion
import Foundation
import GGUFFormat
import GemmaInference
import Quantization
import SourceAdapters
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// The worst error of `weight` · `count` fixed inputs through `multiply`, against the scalar dot of each decoded row
/// with each input, relative to the row's sum of magnitudes.
func worstRelativeError(_ weight: LinearWeight, count: Int) -> Float {
    let x = (0..<(count * weight.columns)).map { Float(sin(Double($0) * 0.37)) }
    var y = [Float](repeating: 0, count: count * weight.rows)
    weight.multiply(x, count: count, into: &y, scratch: Scratch(workers: 2, width: weight.columns))
    var row = [Float](repeating: 0, count: weight.columns), worst: Float = 0
    for r in 0..<weight.rows {
        row.withUnsafeMutableBufferPointer { weight.decodeRow(r, into: $0.baseAddress!) }
        let scale = row.map(abs).reduce(0, +) + 1e-6
        for t in 0..<count {
            let expected = x.withUnsafeBufferPointer { Kernels.dotReference(row, $0.baseAddress! + t * weight.columns, weight.columns) }
            worst = max(worst, abs(y[t * weight.rows + r] - expected) / scale)
        }
    }
    return worst
}

/// The fused quantized dot products (one input: decoding a token) against decoding the row and a scalar dot.
@Suite struct FusedKernelTests {
    /// Every row of `weight` · fixed inputs, through `multiply` with one input and with two (both multiplied in
    /// place), against the scalar reference.
    func check(_ weight: LinearWeight) {
        for count in 1...2 {
            let worst = worstRelativeError(weight, count: count)
            #expect(worst < 1e-5, "\(weight.name), \(count) inputs: worst relative error \(worst)")
        }
    }

    @Test("ggml Q8_0, Q5_0, Q4_K and Q6_K rows (real blocks of the 270M)")
    func ggmlBlocks() throws {
        let source = try ModelSources.open(Fixtures.path("gguf/gemma3-270m.blocks.gguf"))
        let types = source.tensors.compactMap { tensor -> GGMLType? in
            if case .ggml(let type) = tensor.encoding { return type }
            return nil
        }
        #expect(Set(types) == [.q8_0, .q5_0, .q4_K, .q6_K])
        for tensor in source.tensors where tensor.shape.rank == 2 { check(try LinearWeight(source: source, name: tensor.name)) }
    }

    @Test("the C row decoders of Q8_0, Q5_0, Q4_K and Q6_K equal GGUFFormat's dequantizer (itself held to gguf-py) bit for bit")
    func ggmlRowDecoders() throws {
        let source = try ModelSources.open(Fixtures.path("gguf/gemma3-270m.blocks.gguf"))
        for tensor in source.tensors where tensor.shape.rank == 2 {
            let weight = try LinearWeight(source: source, name: tensor.name)
            let reference = try source.floats(tensor.name)
            var row = [Float](repeating: 0, count: weight.columns)
            for r in 0..<weight.rows {
                row.withUnsafeMutableBufferPointer { weight.decodeRow(r, into: $0.baseAddress!) }
                #expect(row.map(\.bitPattern) == reference[(r * weight.columns)..<((r + 1) * weight.columns)].map(\.bitPattern), "\(tensor.name) row \(r)")
            }
        }
    }

    @Test("bfloat16 and half rows (save_pretrained's, 36 columns: both vector loops and a tail): multiplied in place, the same floats as decoded then multiplied",
          arguments: ["bf16", "f16"])
    func halfRows(storage: String) throws {
        let source = try ModelSources.open(Fixtures.path("conformance/gemma3-heads6-kv3-hidden36-window5-softcap/" + storage))
        let matrices = source.tensors.filter { $0.shape.rank == 2 && $0.encoding == .plain(storage == "bf16" ? .bf16 : .f16) }
        #expect(!matrices.isEmpty)
        for tensor in matrices {
            let weight = try LinearWeight(source: source, name: tensor.name)
            let x = (0..<weight.columns).map { Float(sin(Double($0) * 0.37)) }
            var fused = [Float](repeating: 0, count: weight.rows), row = [Float](repeating: 0, count: weight.columns)
            weight.multiply(x, count: 1, into: &fused, scratch: Scratch(workers: 2, width: weight.columns))
            for r in 0..<weight.rows {
                row.withUnsafeMutableBufferPointer { weight.decodeRow(r, into: $0.baseAddress!) }
                #expect(fused[r].bitPattern == Kernels.dot(row, x, weight.columns).bitPattern, "\(tensor.name) row \(r)")
            }
        }
    }

    @Test("ggml Q4_0 rows (gguf-py's, Fixtures/gguf/types.gguf): the fused dot against the reference, the C decoder against GGUFFormat's dequantizer bit for bit")
    func q4_0Rows() throws {
        let source = try ModelSources.open(Fixtures.path("gguf/types.gguf"))
        let tensor = try #require(source.tensors.first { $0.encoding == .ggml(.q4_0) })
        let weight = try LinearWeight(source: source, name: tensor.name)
        check(weight)
        let reference = try source.floats(tensor.name)
        var row = [Float](repeating: 0, count: weight.columns)
        for r in 0..<weight.rows {
            row.withUnsafeMutableBufferPointer { weight.decodeRow(r, into: $0.baseAddress!) }
            #expect(row.map(\.bitPattern) == reference[(r * weight.columns)..<((r + 1) * weight.columns)].map(\.bitPattern), "row \(r)")
        }
    }

    @Test("LayerPack int8, int4 and int2 rows, per-row scales and groups of 32",
          arguments: [Recipe.Precision.int8, .int4, .int2], [nil, 32])
    func packedRows(precision: Recipe.Precision, group: Int?) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try ModelSources.open(Fixtures.path("models/tiny-gemma3-f32"))
        let recipe = Recipe(core: precision, ple: precision, embed: precision, group: group)
        _ = try PackConverter.convert(source, to: directory.path + "/m.lpk", options: .init(recipe: recipe))
        let pack = try ModelSources.open(directory.path + "/m.lpk")
        let matrices = pack.tensors.filter { $0.shape.rank == 2 }
        #expect(!matrices.isEmpty)
        for tensor in matrices {
            let weight = try LinearWeight(source: pack, name: tensor.name)
            check(weight)
            // The C row decoder against the scalar reference decoder, value for value.
            guard case .rows(let scheme) = tensor.encoding else { continue }
            let stored = try pack.storedBytes(tensor.name)
            let stride = stored.count / weight.rows
            var fast = [Float](repeating: 0, count: weight.columns), reference = fast
            stored.withUnsafeBytes { raw in
                for r in 0..<weight.rows {
                    fast.withUnsafeMutableBufferPointer { weight.decodeRow(r, into: $0.baseAddress!) }
                    reference.withUnsafeMutableBufferPointer {
                        RowDequantizer.dequantizeReference(UnsafeRawBufferPointer(rebasing: raw[(r * stride)..<((r + 1) * stride)]), scheme: scheme, into: $0)
                    }
                    #expect(fast == reference, "\(tensor.name) row \(r)")
                    // A lookup's decode, which asks for the next row's bytes slice by slice, decodes the same values.
                    fast.withUnsafeMutableBufferPointer { weight.decodeRow(r, into: $0.baseAddress!, fetching: (r + 1) % weight.rows) }
                    #expect(fast == reference, "\(tensor.name) row \(r), decoded while fetching the next")
                    if fast != reference { return }
                }
            }
        }
    }
}

/// Products of one input run as one loop of the worker pool (a layer's query/key/value and gate/up projections).
@Suite struct SharedInputProductTests {
    @Test("query, key and value of a quantized pack, one and two inputs (one loop) and three (one after another): the floats of separate products, bit for bit",
          arguments: [Recipe.Precision.int8, .int4])
    func sameFloats(precision: Recipe.Precision) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try ModelSources.open(Fixtures.path("models/tiny-gemma3-f32"))
        _ = try PackConverter.convert(source, to: directory.path + "/m.lpk", options: .init(recipe: Recipe(core: precision, ple: precision, embed: precision, group: 32)))
        let pack = try ModelSources.open(directory.path + "/m.lpk")
        func weight(_ suffix: String) throws -> LinearWeight {
            let tensor = try #require(pack.tensors.first { $0.name.hasSuffix("layers.0." + suffix) })
            return try LinearWeight(source: pack, name: tensor.name)
        }
        let weights = [try weight("self_attn.q_proj.weight"), try weight("self_attn.k_proj.weight"), try weight("self_attn.v_proj.weight")]
        let scratch = Scratch(workers: 2, width: weights[0].columns)
        for count in 1...3 {
            let x = (0..<(count * weights[0].columns)).map { Float(sin(Double($0) * 0.37)) }
            var separate = weights.map { [Float](repeating: .nan, count: count * $0.rows) }
            for (k, w) in weights.enumerated() { w.multiply(x, count: count, into: &separate[k], scratch: scratch) }
            var queries = [Float](repeating: .nan, count: count * weights[0].rows), keys = [Float](repeating: .nan, count: count * weights[1].rows)
            var values = [Float](repeating: .nan, count: count * weights[2].rows)
            LinearWeight.multiply(x, count: count, scratch: scratch, weights[0], into: &queries, weights[1], into: &keys, weights[2], into: &values)
            for (k, together) in [queries, keys, values].enumerated() {
                #expect(together.map(\.bitPattern) == separate[k].map(\.bitPattern), "\(weights[k].name), \(count) inputs")
            }
            queries = queries.map { _ in .nan }
            keys = keys.map { _ in .nan }
            LinearWeight.multiply(x, count: count, scratch: scratch, weights[0], into: &queries, weights[1], into: &keys)
            #expect(queries.map(\.bitPattern) == separate[0].map(\.bitPattern) && keys.map(\.bitPattern) == separate[1].map(\.bitPattern))
        }
    }
}

/// The batched product of prefill and verification (rows laid out as a panel, times many inputs in register tiles)
/// against a scalar dot per output, for every kernel version this CPU has.
@Suite struct PanelProductTests {
    /// Every output of the panel of `rows` × `columns` values (`rows` ≤ 32) times `tokens` inputs, by `version`.
    func worstError(version: Int32, rows: Int, columns: Int, tokens: Int) -> Float? {
        let weights = (0..<(rows * columns)).map { Float(sin(Double($0) * 0.71)) }
        let inputs = (0..<(tokens * columns)).map { Float(cos(Double($0) * 0.23)) }
        var panel = [Float](repeating: .nan, count: Int(LPK_PANEL_ROWS) * columns)
        var outputs = [Float](repeating: .nan, count: tokens * (rows + 1))
        lpk_panel_pack(weights, rows, columns, &panel)
        guard lpk_panel_times_inputs_version(version, panel, rows, columns, inputs, tokens, &outputs, rows + 1) == 1 else { return nil }
        var worst: Float = 0
        for t in 0..<tokens {
            #expect(outputs[t * (rows + 1) + rows].isNaN, "wrote past the panel's rows")
            for r in 0..<rows {
                let expected = weights.withUnsafeBufferPointer { w in
                    inputs.withUnsafeBufferPointer { Kernels.dotReference(w.baseAddress! + r * columns, $0.baseAddress! + t * columns, columns) }
                }
                worst = max(worst, abs(outputs[t * (rows + 1) + r] - expected) / Float(columns))
            }
        }
        return worst
    }

    @Test("portable, AVX2 and AVX-512 versions: full and partial panels, every tail of the input tiles, odd widths",
          arguments: [(32, 640), (13, 643), (17, 9), (1, 64)])
    func versions(rows: Int, columns: Int) {
        var ran = 0
        for version: Int32 in 0...2 {
            for tokens in [1, 2, 3, 5, 6, 7, 11, 12, 13, 25] {
                guard let worst = worstError(version: version, rows: rows, columns: columns, tokens: tokens) else { continue }
                ran += 1
                #expect(worst < 1e-6, "version \(version), \(rows) × \(columns) rows, \(tokens) inputs: worst error \(worst) per column")
            }
        }
        #expect(ran >= 10, "the portable version always runs")
    }

    @Test("a matrix product of many inputs equals a dot per output (real Q8_0, Q5_0, Q4_K and Q6_K rows of the 270M)")
    func batchedProduct() throws {
        let source = try ModelSources.open(Fixtures.path("gguf/gemma3-270m.blocks.gguf"))
        for tensor in source.tensors where tensor.shape.rank == 2 {
            let worst = worstRelativeError(try LinearWeight(source: source, name: tensor.name), count: 13)
            #expect(worst < 1e-5, "\(tensor.name): worst relative error \(worst)")
        }
    }
}

/// Grouped-query attention over cached keys and values, up to four query heads at a time, against a direct
/// computation in Double.
@Suite struct AttentionKernelTests {
    @Test("portable, AVX2 and AVX-512 versions: one to four heads, head sizes 8, 24, 48 and 256, spans 1 to 40, keys interleaved with other heads, whole or in parts merged",
          arguments: [8, 24, 48, 256])
    func versions(headDimension hd: Int) {
        let stride = 3 * hd, scale: Float = 0.3
        for heads in 1...4 {
            for span in [1, 5, 40] {
                let queries = (0..<(heads * hd)).map { Float(sin(Double($0) * 0.61)) }
                let keys = (0..<(span * stride)).map { Float(cos(Double($0) * 0.17)) }
                let values = (0..<(span * stride)).map { Float(sin(Double($0) * 0.29 + 1)) }
                var expected = [Double](repeating: 0, count: heads * hd)
                for g in 0..<heads {
                    let logits = (0..<span).map { j in Double(scale) * (0..<hd).reduce(0.0) { $0 + Double(queries[g * hd + $1]) * Double(keys[j * stride + $1]) } }
                    let maximum = logits.max()!, weights = logits.map { exp($0 - maximum) }, total = weights.reduce(0, +)
                    for j in 0..<span {
                        for i in 0..<hd { expected[g * hd + i] += weights[j] / total * Double(values[j * stride + i]) }
                    }
                }
                for version: Int32 in 0...2 {
                    var scores = [Float](repeating: .nan, count: 4 * span), out = [Float](repeating: .nan, count: heads * hd + 1)
                    guard lpk_attend_heads_version(version, queries, heads, keys, values, stride, span, hd, scale, &scores, &out, nil, nil) == 1
                    else { continue }
                    let worst = (0..<(heads * hd)).map { abs(Double(out[$0]) - expected[$0]) }.max()!
                    #expect(worst < 1e-5, "version \(version), \(heads) heads of \(hd), span \(span): worst error \(worst)")
                    #expect(out[heads * hd].isNaN, "wrote past the heads")
                    // The positions in up to three parts (as decoding splits a long span between threads), then merged.
                    let parts = min(3, span), partStride = 3 * heads * hd
                    var partials = [Float](repeating: .nan, count: parts * partStride), merged = [Float](repeating: .nan, count: heads * hd + 1)
                    for p in 0..<parts {
                        let first = p * span / parts, end = (p + 1) * span / parts
                        keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in
                            partials.withUnsafeMutableBufferPointer { part in
                                let base = part.baseAddress! + p * partStride
                                _ = lpk_attend_heads_version(version, queries, heads, k.baseAddress! + first * stride, v.baseAddress! + first * stride,
                                                             stride, end - first, hd, scale, &scores, base, base + heads * hd, base + heads * hd + heads)
                            }
                        } }
                    }
                    lpk_attend_merge(parts, heads, hd, partials, partStride, &merged)
                    let worstMerged = (0..<(heads * hd)).map { abs(Double(merged[$0]) - expected[$0]) }.max()!
                    #expect(worstMerged < 1e-5, "version \(version), \(heads) heads of \(hd), span \(span) in \(parts) parts: worst error \(worstMerged)")
                    #expect(merged[heads * hd].isNaN, "merged past the heads")
                }
            }
        }
    }
}

/// The int8 and int4 row kernels (the fused dot product of decoding and the row decoder of prefill and lookups),
/// every version this CPU has against the portable one.
@Suite struct RowKernelVersionTests {
    @Test("portable, AVX2 and AVX-512: int8 and int4 records, groups of 16 to a whole row, decoded at every offset of a 64-byte line", arguments: [8, 4], [16, 32, 64, 128, 640])
    func versions(bits: Int, group: Int) {
        let columns = 640, groups = columns / group
        var record = [UInt8](repeating: 0, count: 2 * groups + columns * bits / 8)
        for g in 0..<groups {
            let scale = Float16(Float(g % 7 + 1) * 0.013).bitPattern
            record[2 * g] = UInt8(scale & 0xFF)
            record[2 * g + 1] = UInt8(scale >> 8)
        }
        for i in (2 * groups)..<record.count { record[i] = UInt8((i * 37 + 11) % 256) }
        let x = (0..<columns).map { Float(sin(Double($0) * 0.41)) }
        var reference: (dot: Float, row: [Float])?
        var ran = 0
        for version: Int32 in 0...2 {
            var dot: Float = .nan, row = [Float](repeating: .nan, count: columns)
            guard lpk_row_kernels_version(version, Int32(bits), record, x, columns, group, &dot, &row) == 1 else { continue }
            ran += 1
            guard let reference else {
                reference = (dot, row)
                continue
            }
            #expect(row == reference.row, "version \(version): decoded values")
            #expect(abs(dot - reference.dot) <= 1e-5 * row.map(abs).reduce(0, +), "version \(version): dot \(dot) vs \(reference.dot)")
        }
        #expect(ran >= 1 && reference != nil)
        // Into a buffer at every offset of a 64-byte line: the same values, nothing written before or after.
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: columns + 48)
        defer { buffer.deallocate() }
        let line = buffer + (16 - (Int(bitPattern: buffer) / 4) % 16) % 16
        for offset in 0..<16 {
            for version: Int32 in 0...2 {
                buffer.initialize(repeating: .nan, count: columns + 48)
                var dot: Float = .nan
                guard lpk_row_kernels_version(version, Int32(bits), record, x, columns, group, &dot, line + offset) == 1 else { continue }
                let decoded = Array(UnsafeBufferPointer(start: line + offset, count: columns)), expected = reference?.row ?? []
                #expect(decoded == expected, "version \(version) at offset \(offset): decoded values")
                let outside = (0..<(line + offset - buffer)).map { buffer[$0] } + (0..<16).map { line[offset + columns + $0] }
                let untouched = outside.allSatisfy { $0.isNaN }
                #expect(untouched, "version \(version) at offset \(offset): wrote outside the row")
            }
        }
    }
}

/// ggml's Q8_0, Q5_0 and Q4_0 dot products (the output head and the carried blocks of a GGUF), every version this
/// CPU has against the portable one, on the real 270M's blocks and gguf-py's.
@Suite struct BlockDotVersionTests {
    @Test("portable, AVX2 and AVX-512 on every Q8_0, Q5_0, Q4_K and Q6_K tensor of the 270M block fixture and gguf-py's Q4_0 tensor",
          arguments: ["gguf/gemma3-270m.blocks.gguf", "gguf/types.gguf"])
    func versions(fixture: String) throws {
        let source = try ModelSources.open(Fixtures.path(fixture))
        var checked = 0
        for tensor in source.tensors where tensor.shape.rank == 2 {
            let type: Int32
            switch tensor.encoding {
            case .ggml(.q8_0): type = 0
            case .ggml(.q5_0): type = 1
            case .ggml(.q4_0): type = 2
            case .ggml(.q4_K): type = 3
            case .ggml(.q6_K): type = 4
            default: continue
            }
            let bytes = try source.storedBytes(tensor.name)
            let columns = tensor.shape.dimensions.last!, rows = tensor.shape.dimensions.first!, stride = bytes.count / rows
            let x = (0..<columns).map { Float(cos(Double($0) * 0.53)) }
            bytes.withUnsafeBytes { raw in
                for r in 0..<rows {
                    var dots: [Float] = []
                    for version: Int32 in 0...2 {
                        var dot: Float = .nan
                        if lpk_block_dot_version(version, type, raw.baseAddress! + r * stride, x, columns, &dot) == 1 { dots.append(dot) }
                    }
                    let spread = (dots.max() ?? 0) - (dots.min() ?? 0), scale = dots.map(abs).max() ?? 0
                    #expect(spread <= 1e-5 * max(1, scale), "\(tensor.name) row \(r): \(dots)")
                }
            }
            checked += 1
        }
        #expect(checked >= 1)
    }

    @Test("lpk_dot_rows, four rows at a time on AVX-512: the floats of the one-row dot, bit for bit, for 1 to 9 rows and one or two inputs",
          arguments: [LPK_ROWS_Q8_0.rawValue, LPK_ROWS_Q5_0.rawValue, LPK_ROWS_Q4_0.rawValue, LPK_ROWS_Q4_K.rawValue, LPK_ROWS_Q6_K.rawValue,
                      LPK_ROWS_I8.rawValue])
    func rowsByFour(kindValue: UInt32) throws {
        let kind = lpk_row_kind(rawValue: kindValue)
        // lpk_block_dot_version's types: 0 Q8_0, 1 Q5_0, 2 Q4_0, 3 Q4_K, 4 Q6_K.
        let blockType: Int32 = [LPK_ROWS_Q8_0, LPK_ROWS_Q5_0, LPK_ROWS_Q4_0, LPK_ROWS_Q4_K, LPK_ROWS_Q6_K].firstIndex(of: kind).map { Int32($0) } ?? -1
        // Nine rows of 512 values: bytes from a fixed sequence, each block's f16 scales (where the type keeps them) finite.
        let columns = 512, group = 32
        let (blockValues, blockBytes, scaleOffsets): (Int, Int, [Int]) = switch kind {
        case LPK_ROWS_Q8_0: (32, 34, [0])
        case LPK_ROWS_Q5_0: (32, 22, [0])
        case LPK_ROWS_Q4_0: (32, 18, [0])
        case LPK_ROWS_Q4_K: (256, 144, [0, 2])
        case LPK_ROWS_Q6_K: (256, 210, [208])
        default: (columns, 2 * columns / group + columns, Array(stride(from: 0, to: 2 * columns / group, by: 2)))
        }
        let stride = columns / blockValues * blockBytes, rows = 9
        var records = [UInt8](repeating: 0, count: rows * stride)
        for i in records.indices { records[i] = UInt8(truncatingIfNeeded: i * 37 + i / 5 + 11) }
        for block in 0..<(rows * stride / blockBytes) {
            for offset in scaleOffsets {
                records[block * blockBytes + offset] = UInt8(block % 251)
                records[block * blockBytes + offset + 1] = 0x2C
            }
        }
        let x = (0..<(2 * columns)).map { Float(cos(Double($0) * 0.53)) }
        try records.withUnsafeBytes { raw in
            for count in 1...2 {
                for used in 1...rows {
                    var out = [Float](repeating: .nan, count: count * used)
                    lpk_dot_rows(kind, raw.baseAddress!, stride, used, x, count, columns, group, 2, &out, used)
                    for t in 0..<count {
                        for r in 0..<used {
                            var single: Float = .nan, decoded = [Float](repeating: 0, count: columns)
                            let record = raw.baseAddress! + r * stride, input = Array(x[(t * columns)..<((t + 1) * columns)])
                            let ran = kind == LPK_ROWS_I8 ? lpk_row_kernels_version(2, 8, record, input, columns, group, &single, &decoded)
                                                          : lpk_block_dot_version(2, blockType, record, input, columns, &single)
                            if ran == 0 { return }  // no AVX-512 here: lpk_dot_rows goes row by row
                            try #require(single.isFinite)
                            #expect(out[t * used + r].bitPattern == single.bitPattern, "\(used) rows, input \(t), row \(r)")
                        }
                    }
                }
            }
        }
    }

    @Test("a lookup's decode, fetching the next record slice by slice, equals the plain decode for many groups",
          arguments: [(8, 16, 100), (8, 256, 30), (4, 32, 45), (4, 64, 7)])
    func decodeWhileFetching(bits: Int32, group: Int, groups: Int) {
        let columns = group * groups, recordBytes = 2 * groups + columns * Int(bits) / 8
        var generator = SystemRandomNumberGenerator()
        var records = (0..<(2 * recordBytes)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for g in 0..<groups { records[2 * g] = UInt8.random(in: 0...255); records[2 * g + 1] = 0x2C }  // finite f16 scales
        var plain = [Float](repeating: 0, count: columns), fetching = [Float](repeating: .nan, count: columns)
        records.withUnsafeBytes { raw in
            if bits == 8 { lpk_decode_i8_groups(raw.baseAddress!, &plain, columns, group) } else { lpk_decode_i4_groups(raw.baseAddress!, &plain, columns, group) }
            lpk_decode_groups_fetching(bits, raw.baseAddress!, &fetching, columns, group, raw.baseAddress! + recordBytes, recordBytes)
        }
        #expect(fetching.map(\.bitPattern) == plain.map(\.bitPattern))
    }
}
