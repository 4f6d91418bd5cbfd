extension LinearWeight {
    /// Two or three products of one input (a layer's query, key and value projections, or its gate and up
    /// projections) as one loop of the worker pool: iteration `i` is piece `i` of the first product, then of the
    /// second, then of the third. The threads meet once for all of them instead of once per product.
    struct SharedInputProducts {
        let first, second: Product
        let third: Product?
        let firstPieces, secondPieces, thirdPieces: Int

        var pieces: Int { firstPieces + secondPieces + thirdPieces }

        func run(piece: Int) {
            if piece < firstPieces { return first.run(piece: piece) }
            if piece < firstPieces + secondPieces { return second.run(piece: piece - firstPieces) }
            third?.run(piece: piece - firstPieces - secondPieces)
        }
    }

    /// y₀ = W₀·x, y₁ = W₁·x and, when `third` is given, y₂ = W₂·x for the first `count` inputs in `x`, as
    /// ``multiply(_:count:into:scratch:)`` computes each (the same rows, kernels and sums). When every product is
    /// multiplied in place (mapped rows with a dot-product kernel, at most ``fusedInputLimit`` inputs, inputs not
    /// rounded), their pieces run as one loop of the worker pool; otherwise one product after another.
    public static func multiply(_ x: [Float], count: Int, scratch: Scratch, _ first: LinearWeight, into y0: inout [Float],
                                _ second: LinearWeight, into y1: inout [Float], _ third: LinearWeight?, into y2: inout [Float]) {
        guard count > 0, first.multipliesInPlace(count: count), second.multipliesInPlace(count: count),
              third?.multipliesInPlace(count: count) ?? true, first.columns == second.columns,
              first.columns == third?.columns ?? first.columns else {
            first.multiply(x, count: count, into: &y0, scratch: scratch)
            second.multiply(x, count: count, into: &y1, scratch: scratch)
            third?.multiply(x, count: count, into: &y2, scratch: scratch)
            return
        }
        let columns = first.columns
        precondition(x.count >= count * columns && y0.count >= count * first.rows && y1.count >= count * second.rows
                     && y2.count >= count * (third?.rows ?? 0), "\(first.name): shared-input products need room for \(count) inputs")
        x.withUnsafeBufferPointer { input in
            let inputs = UnsafeMutablePointer(mutating: input.baseAddress!)  // read, never written, by the products
            let observed = UnsafeBufferPointer(rebasing: input[0..<(count * columns)])
            first.observer?.observe(observed, count: count)
            second.observer?.observe(observed, count: count)
            third?.observer?.observe(observed, count: count)
            y0.withUnsafeMutableBufferPointer { out0 in y1.withUnsafeMutableBufferPointer { out1 in y2.withUnsafeMutableBufferPointer { out2 in
                first.withInPlaceProduct(inputs, count: count, outputs: out0.baseAddress!, scratch: scratch) { p0, n0 in
                    second.withInPlaceProduct(inputs, count: count, outputs: out1.baseAddress!, scratch: scratch) { p1, n1 in
                        guard let third else {
                            let job = SharedInputProducts(first: p0, second: p1, third: nil, firstPieces: n0, secondPieces: n1, thirdPieces: 0)
                            return WorkerPool.shared.parallelFor(job.pieces, .sharedInput(job))
                        }
                        third.withInPlaceProduct(inputs, count: count, outputs: out2.baseAddress!, scratch: scratch) { p2, n2 in
                            let job = SharedInputProducts(first: p0, second: p1, third: p2, firstPieces: n0, secondPieces: n1, thirdPieces: n2)
                            WorkerPool.shared.parallelFor(job.pieces, .sharedInput(job))
                        }
                    }
                }
            } } }
        }
    }

    /// ``multiply(_:count:scratch:_:into:_:into:_:into:)`` of two weights.
    public static func multiply(_ x: [Float], count: Int, scratch: Scratch, _ first: LinearWeight, into y0: inout [Float],
                                _ second: LinearWeight, into y1: inout [Float]) {
        var unused: [Float] = []
        multiply(x, count: count, scratch: scratch, first, into: &y0, second, into: &y1, nil, into: &unused)
    }
}
