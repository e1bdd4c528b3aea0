import ParrotCore
import XCTest

final class CacheKeyTests: XCTestCase {
    func key(_ body: String, endpoint: Endpoint = .chatCompletions, namespace: String = "default", provider: String = "openai") throws -> String {
        let json = try JSONParser.parse(Array(body.utf8))
        return CacheKey(endpoint: endpoint, provider: provider, model: json["model"]?.stringValue ?? "", namespace: namespace,
                        body: json, streamed: json["stream"]?.boolValue ?? false).hex
    }

    let base = #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1}"#

    func testKeyOrderWhitespaceAndNumberSpellingDoNotSplit() throws {
        let k = try key(base)
        XCTAssertEqual(k, try key(#"{ "temperature" : 1.0 , "messages":[{"content":"hi","role":"user"}], "model":"m" }"#))
        XCTAssertEqual(k, try key(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1e0}"#))
        XCTAssertEqual(k, try key(#"{"model":"m","messages":[{"role":"user","content":"\u0068i"}],"temperature":10E-1}"#))
    }

    func testEachIgnoredFieldDoesNotSplit() throws {
        let k = try key(base)
        XCTAssertEqual(CacheKey.ignoredFields(for: .chatCompletions), ["user", "metadata", "stream", "safety_identifier", "prompt_cache_key"])
        for (field, value) in [("user", #""u1""#), ("metadata", #"{"a":"b"}"#), ("stream", "true"),
                               ("safety_identifier", #""s""#), ("prompt_cache_key", #""p""#)] {
            let body = String(base.dropLast()) + #","\#(field)":\#(value)}"#
            XCTAssertEqual(try key(body), k, field)
        }
    }

    /// `store` changes what the provider keeps (a stored completion or response is retrievable
    /// by id; a `/v1/responses` chain needs it), and the response object echoes `metadata` and
    /// `user`: for `/v1/responses` only `stream` is ignored.
    func testStoreAndResponseFieldsSplit() throws {
        XCTAssertNotEqual(try key(String(base.dropLast()) + #","store":true}"#), try key(base))
        let responses = #"{"model":"m","input":"hi"}"#
        let plain = try key(responses, endpoint: .responses)
        for (field, value) in [("store", "false"), ("previous_response_id", #""resp_1""#), ("conversation", #""conv_1""#),
                               ("background", "true"), ("metadata", #"{"a":"b"}"#), ("user", #""u""#)] {
            XCTAssertNotEqual(try key(String(responses.dropLast()) + #","\#(field)":\#(value)}"#, endpoint: .responses), plain, field)
        }
    }

    /// The query string and the answer-changing headers that reach the provider are in the key;
    /// the usual request (neither) keeps the key it always had.
    func testVariantSplitsOnlyWhenPresent() throws {
        let json = try JSONParser.parse(Array(base.utf8))
        let plain = CacheKey(endpoint: .chatCompletions, provider: "openai", model: "m", namespace: "default", body: json, streamed: false)
        XCTAssertEqual(plain.hex, try key(base))
        let queried = CacheKey(endpoint: .chatCompletions, provider: "openai", model: "m", namespace: "default", body: json, streamed: false,
                               variant: "?api-version=1")
        XCTAssertNotEqual(queried, plain)
        XCTAssertNotEqual(plain.besideForStreams, plain)
    }

    func testEveryOutputAffectingChangeSplits() throws {
        let k = try key(base)
        let variants = [
            #","seed":1"#, #","max_tokens":5"#, #","max_completion_tokens":5"#, #","top_p":0.5"#, #","n":2"#,
            #","stop":["x"]"#, #","response_format":{"type":"json_object"}"#, #","tools":[]"#, #","tool_choice":"none""#,
            #","presence_penalty":0.1"#, #","frequency_penalty":0.1"#, #","logit_bias":{"1":1}"#,
            #","stream_options":{"include_usage":true}"#,
        ]
        var seen: Set<String> = [k]
        for extra in variants {
            let variant = try key(String(base.dropLast()) + extra + "}")
            XCTAssertFalse(seen.contains(variant), extra)
            seen.insert(variant)
        }
        XCTAssertNotEqual(k, try key(base.replacingOccurrences(of: "\"hi\"", with: "\"hi!\"")))
        XCTAssertNotEqual(k, try key(base.replacingOccurrences(of: "\"temperature\":1", with: "\"temperature\":0.7")))
        XCTAssertNotEqual(k, try key(base, namespace: "other"))
        XCTAssertNotEqual(k, try key(base, provider: "other"))
        XCTAssertNotEqual(k, try key(base, endpoint: .completions))
    }

    func testStreamSplitsOnlyEndpointsThatCannotConvert() throws {
        let plain = #"{"model":"m","input":"hi"}"#
        let streamed = #"{"model":"m","input":"hi","stream":true}"#
        XCTAssertNotEqual(try key(plain, endpoint: .responses), try key(streamed, endpoint: .responses))
        XCTAssertEqual(try key(plain, endpoint: .completions), try key(streamed, endpoint: .completions))
    }

    func testNamespacesAreDerivedAndNeverContainTheCredential() {
        let deriver = NamespaceDeriver(secret: "s3cret", shareAcrossKeys: false)
        let a = deriver.namespace(credential: "Bearer sk-aaa", name: nil)
        let b = deriver.namespace(credential: "Bearer sk-bbb", name: nil)
        XCTAssertNotEqual(a, b)
        XCTAssertFalse(a.contains("sk-aaa"))
        XCTAssertEqual(a, NamespaceDeriver(secret: "s3cret", shareAcrossKeys: false).namespace(credential: "Bearer sk-aaa", name: nil))
        XCTAssertNotEqual(a, NamespaceDeriver(secret: "other", shareAcrossKeys: false).namespace(credential: "Bearer sk-aaa", name: nil))
        XCTAssertEqual(deriver.namespace(credential: nil as String?, name: nil), "default")
        XCTAssertNotEqual(deriver.namespace(credential: "Bearer sk-aaa", name: "team"), deriver.namespace(credential: "Bearer sk-bbb", name: "team"))
        let shared = NamespaceDeriver(secret: "s3cret", shareAcrossKeys: true)
        XCTAssertEqual(shared.namespace(credential: "Bearer sk-aaa", name: "team"), shared.namespace(credential: "Bearer sk-bbb", name: "team"))
    }

    func testParserRejectsMalformedInput() {
        for bad in ["", "{", #"{"a":}"#, "[1,]", #"{"a":1} x"#, "\"\u{01}\"", "01", "1.", "-", #""\ud800""#, "nul"] {
            XCTAssertThrowsError(try JSONParser.parse(Array(bad.utf8)), bad)
        }
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xFF, 0x22]), "invalid UTF-8")
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertThrowsError(try JSONParser.parse(Array(deep.utf8)), "deep nesting is bounded")
        XCTAssertEqual(try JSONParser.parse(Array(#"{"a":[1,2.5,"x",true,null]}"#.utf8)).jsonString, #"{"a":[1,2.5,"x",true,null]}"#)
    }
}
