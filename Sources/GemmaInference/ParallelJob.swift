/// Every parallel loop the inference runs, as one type: the worker pool gets the address of a `ParallelJob` on the
/// caller's stack and casts it back in one place, ``WorkerPool/parallelFor(_:_:)``. An enum keeps the payload inline,
/// so starting a loop allocates nothing.
enum ParallelJob {
    /// A matrix product; iteration `i` is piece `i` of the rows.
    case product(LinearWeight.Product)
    /// Products of one input; iteration `i` is piece `i` of the first, then of the second, then of the third.
    case sharedInput(LinearWeight.SharedInputProducts)
    /// Attention of a batch of queries; iteration `i` is lane `i`.
    case attention(Attention.Job)
    /// GeGLU over a long run of values; iteration `i` is part `i`.
    case geglu(Kernels.GeGLU)
    /// A batch of table lookups; iteration `i` is part `i` of the batch.
    case lookups(LinearWeight.Lookups)

    func run(_ iteration: Int) {
        switch self {
        case .product(let product): product.run(piece: iteration)
        case .sharedInput(let products): products.run(piece: iteration)
        case .attention(let job): job.run(lane: iteration)
        case .geglu(let job): job.run(part: iteration)
        case .lookups(let job): job.run(part: iteration)
        }
    }
}

extension WorkerPool {
    /// Runs `job` for iterations `0..<iterations` on the caller and the workers; returns when all are done.
    func parallelFor(_ iterations: Int, _ job: ParallelJob) {
        run(iterations, job: job) { context, iteration in
            context.assumingMemoryBound(to: ParallelJob.self).pointee.run(iteration)
        }
    }
}
