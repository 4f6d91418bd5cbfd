extension ModelConfiguration {
    enum CodingKeys: String, CodingKey {
        case architecture, modelType, vocabularySize, hiddenSize, layerCount, headCount, keyValueHeadCount, headDimension
        case globalHeadDimension, intermediateSizes, layerTypes, slidingWindow, ropeTheta, ropeLocalTheta
        case fullAttentionRotaryFraction, rmsNormEpsilon, finalLogitSoftcap, queryPreAttentionScalar, perLayerInputSize
        case perLayerVocabularySize, kvSharedLayerCount, altupInputCount, altupActiveIndex, laurelRank, altupCorrectScale
        case activationSparsity, tieWordEmbeddings, normWeightOffset, fullAttentionRopeScale, globalKeyValueHeadCount
        case fullAttentionValuesAreKeys
    }

    /// Decodes a configuration a pack stored (Formats/lpk.md §8), tolerant of versions: the architecture and the
    /// sizes every model has are required; any other field a writer left out takes the default its Hugging Face
    /// configuration class has, so packs written before a field existed still open.
    /// - Throws: `DecodingError` naming a required field that is missing or any field of the wrong type.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func optional<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let architecture = try c.decode(Architecture.self, forKey: .architecture)
        let layers = try c.decode(Int.self, forKey: .layerCount)
        self.init(
            architecture: architecture,
            modelType: try optional(.modelType, architecture.rawValue),
            vocabularySize: try c.decode(Int.self, forKey: .vocabularySize),
            hiddenSize: try c.decode(Int.self, forKey: .hiddenSize),
            layerCount: layers,
            headCount: try c.decode(Int.self, forKey: .headCount),
            keyValueHeadCount: try optional(.keyValueHeadCount, 1),
            headDimension: try optional(.headDimension, 256),
            globalHeadDimension: try c.decodeIfPresent(Int.self, forKey: .globalHeadDimension),
            intermediateSizes: try c.decode([Int].self, forKey: .intermediateSizes),
            layerTypes: try optional(.layerTypes, (0..<layers).map { ($0 + 1) % 6 == 0 ? AttentionKind.full : .sliding }),
            slidingWindow: try optional(.slidingWindow, 512),
            ropeTheta: try optional(.ropeTheta, 1_000_000),
            ropeLocalTheta: try optional(.ropeLocalTheta, 10_000),
            fullAttentionRotaryFraction: try optional(.fullAttentionRotaryFraction, 1),
            rmsNormEpsilon: try optional(.rmsNormEpsilon, 1e-6),
            finalLogitSoftcap: try c.decodeIfPresent(Double.self, forKey: .finalLogitSoftcap),
            queryPreAttentionScalar: try c.decodeIfPresent(Double.self, forKey: .queryPreAttentionScalar),
            perLayerInputSize: try c.decodeIfPresent(Int.self, forKey: .perLayerInputSize),
            perLayerVocabularySize: try c.decodeIfPresent(Int.self, forKey: .perLayerVocabularySize),
            kvSharedLayerCount: try optional(.kvSharedLayerCount, 0),
            altupInputCount: try c.decodeIfPresent(Int.self, forKey: .altupInputCount),
            altupActiveIndex: try c.decodeIfPresent(Int.self, forKey: .altupActiveIndex),
            laurelRank: try c.decodeIfPresent(Int.self, forKey: .laurelRank),
            activationSparsity: try optional(.activationSparsity, Array(repeating: 0, count: layers)),
            tieWordEmbeddings: try optional(.tieWordEmbeddings, true),
            normWeightOffset: try optional(.normWeightOffset, architecture == .gemma3 ? 1 : 0))
        altupCorrectScale = try optional(.altupCorrectScale, true)
        fullAttentionRopeScale = try optional(.fullAttentionRopeScale, 1)
        globalKeyValueHeadCount = try c.decodeIfPresent(Int.self, forKey: .globalKeyValueHeadCount)
        fullAttentionValuesAreKeys = try optional(.fullAttentionValuesAreKeys, false)
    }
}
