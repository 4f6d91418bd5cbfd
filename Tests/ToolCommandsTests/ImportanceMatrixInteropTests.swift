import ByteIO
import CDotKernels
import Conversion
import Foundation
import StrictJSON
import TestSupport
import Testing

/// Importance matrices between LayerPack and llama.cpp, both ways (Fixtures/imatrix, made by
/// Fixtures/scripts/make_imatrix_fixtures.py with llama.cpp's own llama-imatrix and llama-quantize on a tiny Gemma 3
/// GGUF): LayerPack reads llama.cpp's files as gguf-py reads them, writes the file llama.cpp's tools accepted, and
/// calibration beats no calibration on a text it did not see.
@Suite struct ImportanceMatrixInteropTests {
    static let model = Fixtures.path("conformance/gemma3-hd8-mha-window3-tied/model.gguf")
    static let calibration = Fixtures.path("imatrix/calibration.txt")

    func peers() throws -> JSONObject { try #require(try Fixtures.json("imatrix/llama.imatrix.json").objectValue) }

    @Test("llama-imatrix's GGUF and legacy .dat files read as gguf-py reads them")
    func readsLlamaCppFiles() throws {
        let entries = try #require(try peers()["entries"]?.objectValue)
        let gguf = try ImportanceMatrixFile.read(Fixtures.path("imatrix/llama.imatrix.gguf"))
        let dat = try ImportanceMatrixFile.read(Fixtures.path("imatrix/llama.imatrix.dat"))
        #expect(Set(gguf.keys) == Set(entries.members.map(\.key)) && Set(dat.keys) == Set(gguf.keys))
        for member in entries.members {
            let expected = try #require(member.value.objectValue)
            let sums = expected["in_sum2"]?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) } ?? []
            let means = expected["mean_squares"]?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) } ?? []
            let entry = try #require(gguf[member.key]), legacy = try #require(dat[member.key])
            #expect(entry.sumSquares == sums && Double(entry.tokens) == expected["counts"]?.arrayValue?.first?.doubleValue, "\(member.key)")
            // The .dat holds mean squares times the chunk count, over that count: the same mean squares.
            let legacyMeans = legacy.sumSquares.map { $0 / Float(legacy.tokens) }
            #expect(zip(legacyMeans, means).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }, "\(member.key)")
            #expect(legacy.countsChunks && !entry.countsChunks)
        }
    }

    @Test("--save-imatrix writes the very file llama-quantize accepted and gguf-py read; its mean squares are llama.cpp's")
    func writesWhatLlamaCppAccepts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ours = directory.path + "/ours.imatrix.gguf"
        let run = try ToolRun.run("lpk-quantize", [Self.model, "-o", directory.path + "/x.lpk", "--preset", "int4", "--calibrate", Self.calibration,
                                                   "--save-imatrix", ours, "--calibration-tokens", "2624", "--calibration-context", "64", "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        // The dataset name is the text's file name, so the bytes do not depend on where the text lies. They are the
        // fixture's on a CPU that runs the AVX-512 kernels, which wrote it; other kernels (AVX2, arm64's portable C) sum
        // the activations in another order, so there the file holds the same entries with sums within float rounding.
        let fixture = Fixtures.path("imatrix/layerpack.imatrix.gguf")
        if lpk_dot_uses_avx512() != 0 { #expect(try MappedFile(path: ours).bytes.array == MappedFile(path: fixture).bytes.array) }
        let accepted = try ImportanceMatrixFile.read(fixture), saved = try ImportanceMatrixFile.read(ours)
        #expect(Set(saved.keys) == Set(accepted.keys))
        for (name, entry) in saved {
            let expected = try #require(accepted[name])
            #expect(entry.tokens == expected.tokens && entry.sumSquares.count == expected.sumSquares.count, "\(name)")
            for (a, b) in zip(entry.sumSquares, expected.sumSquares) { #expect(abs(a - b) <= 1e-5 * max(abs(b), 1e-6), "\(name)") }
        }
        let check = try #require(try Fixtures.json("imatrix/layerpack.imatrix.check.json").objectValue)
        let quantize = try #require(check["b_c_llama_quantize"]?.objectValue)
        for type in ["Q4_0", "IQ4_NL", "Q4_K_M"] {
            let layerpack = try #require(quantize[type]?.objectValue?["layerpack"]?.objectValue)
            #expect(layerpack["exit_status"]?.intValue == 0, "llama-quantize \(type)")
            let log = layerpack["stdout"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(log.filter { $0.contains("load_imatrix: loaded data") }.count == 21, "llama-quantize \(type) used every entry")
        }
        #expect(check["a_gguf_py_reads_layerpack"]?.objectValue?["keys"]?.objectValue?["general.type"]?.objectValue?["value"]?.stringValue == "imatrix")
        // Two inference implementations on the same text: mean squares within 1e-3 of each other.
        let llama = try ImportanceMatrixFile.read(Fixtures.path("imatrix/llama.imatrix.gguf"))
        let written = try ImportanceMatrixFile.read(ours)
        #expect(Set(written.keys) == Set(llama.keys))
        for (name, entry) in written {
            let theirs = try #require(llama[name])
            #expect(entry.tokens == theirs.tokens, "\(name)")
            for (a, b) in zip(entry.sumSquares, theirs.sumSquares) { #expect(abs(a - b) <= 1e-3 * max(abs(b), 1e-6), "\(name)") }
        }
    }

    @Test("GPTQ calibrated on one text beats plain int4 on a held-out text; llama.cpp's imatrix weights the scale search")
    func calibrationHelpsOnUnseenText() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var packs = 0
        func kld(_ arguments: [String]) throws -> Double {
            packs += 1
            let pack = directory.path + "/\(packs).lpk"
            let quantize = try ToolRun.run("lpk-quantize", [Self.model, "-o", pack, "--preset", "int4", "--quiet"] + arguments)
            #expect(quantize.status == 0, "\(quantize.standardError)")
            let verify = try ToolRun.run("lpk-verify", [Self.model, pack, "--text", Fixtures.path("imatrix/heldout.txt"), "--context", "64",
                                                        "--json", "--no-weights", "--quiet"])
            let report = try #require(try JSONParser.parse(verify.standardOutput).objectValue)
            return try #require(report["evaluation"]?.objectValue?["meanKLD"]?.objectValue?["value"]?.doubleValue)
        }
        let plain = try kld([])
        let nearest = try kld(["--rounding", "nearest"])
        let calibrated = try kld(["--calibrate", Self.calibration, "--calibration-context", "64"])
        let imatrix = try kld(["--imatrix", Fixtures.path("imatrix/llama.imatrix.gguf"), "--rounding", "scale-search"])
        #expect(calibrated < plain, "GPTQ \(calibrated) vs plain \(plain)")
        // On this tiny model the imatrix-weighted search lands within noise of the unweighted one (0.01519 vs 0.01515
        // when written); both are well ahead of nearest rounding (0.0229).
        #expect(imatrix < nearest, "llama.cpp's imatrix \(imatrix) vs nearest \(nearest)")
        #expect(imatrix <= plain * 1.05, "llama.cpp's imatrix \(imatrix) vs plain \(plain)")
    }
}
