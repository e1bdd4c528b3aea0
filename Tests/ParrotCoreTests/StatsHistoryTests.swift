import Foundation
import AsyncHTTPClient
import NIOHTTP1
import ParrotCore
import XCTest

/// `GET /stats?history=1`: the last hour of 10-second samples the dashboard opens with, and
/// `GET /` sending a browser to the dashboard.
final class StatsHistoryTests: XCTestCase {
    /// A clock whose sleeps never end (until cancelled): the test takes the samples itself.
    struct PausedClock: Clock {
        typealias Instant = ContinuousClock.Instant
        var now: Instant { .now }
        var minimumResolution: Duration { .zero }
        func sleep(until deadline: Instant, tolerance: Duration?) async throws {
            try await Task.sleep(for: .seconds(86_400))
        }
    }

    func testHistoryHoldsWhatEachIntervalCountedAndSurvivesAStatsReset() async throws {
        let proxy = try await TestProxy.start(historyClock: PausedClock())
        do {
            let plain = try await proxy.stats()
            XCTAssertNil(plain["history"], "only ?history=1 adds it")
            proxy.app.history.sample(at: 1_000)
            _ = try await proxy.chat("history question")
            _ = try await proxy.chat("history question")
            _ = try await proxy.chat("history question")
            proxy.app.history.sample(at: 1_010)
            let reset = try await proxy.send(.POST, "/stats/reset")
            XCTAssertEqual(reset.status, 200)
            _ = try await proxy.chat("history question")
            proxy.app.history.sample(at: 1_020)

            let reply = try await proxy.send(.GET, "/stats?history=1")
            let history = try XCTUnwrap(reply.json?["history"]?.arrayValue, reply.body)
            XCTAssertEqual(history.count, 3)
            func sample(_ t: Int, _ requests: Int, _ hits: Int, _ misses: Int, _ upstream: Int) -> JSONValue {
                .object([("t", .int(t)), ("requests", .int(requests)), ("hits", .int(hits)), ("semantic_hits", .int(0)),
                         ("misses", .int(misses)), ("upstream_calls", .int(upstream))])
            }
            XCTAssertEqual(history[1], sample(1_010, 3, 2, 1, 1))
            XCTAssertEqual(history[2], sample(1_020, 1, 1, 0, 0), "a stats reset does not rewind the history")
            XCTAssertNotNil(reply.json?["cache"], "the usual /stats document is still there")
        } catch {
            await proxy.stop()
            throw error
        }
        await proxy.stop()
    }

    func testHistoryIsBoundedToTheLastHour() async throws {
        let proxy = try await TestProxy.start(historyClock: PausedClock())
        for i in 0..<(StatsHistory.capacity + 40) { proxy.app.history.sample(at: Double(i * 10)) }
        let samples = proxy.app.history.samples
        XCTAssertEqual(samples.count, 360, "an hour of 10-second samples")
        XCTAssertEqual(samples.first?.t, 400)
        XCTAssertEqual(samples.last?.t, Double((StatsHistory.capacity + 39) * 10))
        await proxy.stop()
    }

    func testTheRootRedirectsToTheDashboard() async throws {
        try await withProxy { proxy in
            var request = HTTPClientRequest(url: proxy.baseURL + "/")
            request.method = .GET
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(10))
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
            XCTAssertEqual(response.status.code, 302)
            XCTAssertEqual(response.headers.first(name: "location"), "/dashboard")
            let page = try await proxy.send(.GET, "/")
            XCTAssertEqual(page.status, 200, "followed, it is the dashboard")
            XCTAssertTrue(page.body.contains("<html"), page.body.prefix(200).description)
        }
    }
}
