import StrictJSON
import Testing

@Suite struct JSONParserTests {
    @Test("parses nested values and keeps member order and exact numbers")
    func parsesValues() throws {
        let value = try JSONParser.parse(#"{"b": [1, 2.5e3, -0], "a": {"x": null, "y": true}, "big": 18446744073709551615, "s": "\u00e9\ud83d\ude00\n"}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a", "big", "s"])
        #expect(object["big"]?.uint64Value == UInt64.max)
        #expect(object["b"]?.arrayValue?[1].doubleValue == 2500)
        #expect(object["a"]?.objectValue?["y"]?.boolValue == true)
        #expect(object["s"]?.stringValue == "é😀\n")
    }

    @Test("keys compare code point by code point: canonically equivalent keys are two keys, not a duplicate")
    func keysAreCodePoints() throws {
        let object = try #require(try JSONParser.parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}").objectValue)
        #expect(object.members.count == 2)
        #expect(object["\u{E9}"]?.intValue == 1 && object["e\u{301}"]?.intValue == 2)
        #expect(throws: JSONError.self) { try JSONParser.parse("{\"\u{E9}\": 1, \"\u{E9}\": 2}") }
    }

    @Test("refuses malformed text with the offset of the problem", arguments: [
        (#"{"a": 1, "a": 2}"#, "duplicate key", 9),
        (#"{"a": 1,}"#, "expected a string key", 8),
        (#"{"a": 01}"#, "expected ',' or '}'", 7),
        (#"[1, 2"#, "expected ','", 5),
        (#"{"a": "x"} x"#, "unexpected content", 11),
        ("{\"a\": \"\u{1}\"}", "control character", 7),
        (#"{"a": "\ud800"}"#, "unpaired surrogate", 13),
        (#"{"a": tru}"#, "invalid literal", 9),
        (#"{"a": 1e}"#, "invalid number", 6),
    ])
    func refusesMalformed(text: String, message: String, offset: Int) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            guard let error = error as? JSONError else { return false }
            return error.message.contains(message) && error.offset == offset
        }
    }

    @Test("refuses invalid UTF-8 inside strings")
    func refusesInvalidUTF8() {
        let bytes: [UInt8] = Array(#"{"a": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONError(offset: 6, message: "string is not valid UTF-8")) { try JSONParser.parse(bytes) }
    }

    @Test("bounds nesting depth instead of recursing without limit")
    func boundsDepth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.self) { try JSONParser.parse(deep) }
    }

    @Test("quotes strings so that the parser reads them back unchanged")
    func quotesRoundTrip() throws {
        let text = "a\"b\\c\n\u{1}é"
        #expect(try JSONParser.parse(JSONString.quoted(text)).stringValue == text)
    }
}
